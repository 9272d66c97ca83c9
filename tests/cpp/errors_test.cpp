// Every error path of the C API, exercised from C++: each call must return the documented
// status with a message (freed with gwen_string_free), and leave the engine usable.
//
// usage: errors_test DB DATA SCRATCH
//   DB is a read-write database (trained a little by this test); DATA a labeled Criteo file;
//   SCRATCH an empty directory for the non-database cases.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <limits>
#include <memory>

#include "common.hpp"

using namespace gwen_test;

namespace {

int checked = 0;

// Runs `call(&err)`, expecting `want` and, for errors, a message containing `needle`.
template <typename Call>
void expect_status(const char* what, GwenStatus want, const char* needle, Call call) {
    char* err = reinterpret_cast<char*>(0x1);  // must be overwritten: NULL or a message
    GwenStatus got = call(&err);
    std::string message = err ? err : "";
    bool have_message = err != nullptr;
    gwen_string_free(err);
    ++checked;
    if (got != want) {
        fail(std::string(what) + ": got " + gwen_status_name(got) + " (" + message +
             "), want " + gwen_status_name(want));
    }
    if (want == GWEN_OK) {
        expect(!have_message, std::string(what) + ": err_msg is NULL on success");
        return;
    }
    expect(have_message, std::string(what) + ": an error comes with a message");
    if (message.find(needle) == std::string::npos) {
        fail(std::string(what) + ": message \"" + message + "\" lacks \"" + needle + "\"");
    }
}

// A child process holds DB open for writing while the parent tries to open it too. Runs
// first, before this process has used gwen (or started RocksDB threads), so the fork is clean.
void locked_database(const std::string& db) {
    int ready[2], done[2];
    expect(pipe(ready) == 0 && pipe(done) == 0, "pipes");
    pid_t child = fork();
    expect(child >= 0, "fork");
    if (child == 0) {
        GwenEngine* engine = nullptr;
        GwenStatus s = gwen_engine_open(db.c_str(), nullptr, &engine, nullptr);
        char byte = s == GWEN_OK ? 'y' : 'n';
        ssize_t w = write(ready[1], &byte, 1);
        ssize_t r = read(done[0], &byte, 1);
        gwen_engine_close(engine);
        // exit, not _exit: static destructors stop RocksDB's background threads.
        std::exit(s == GWEN_OK && w == 1 && r == 1 ? 0 : 1);
    }
    char byte = 0;
    expect(read(ready[0], &byte, 1) == 1 && byte == 'y', "child opened the database");
    GwenEngine* engine = nullptr;
    expect_status("open while another process writes", GWEN_LOCKED, "in use", [&](char** e) {
        return gwen_engine_open(db.c_str(), nullptr, &engine, e);
    });
    expect(engine == nullptr, "no handle on error");
    // Readers are not locked out.
    GwenEngineOptions ro = gwen_engine_options_default();
    ro.read_only = true;
    expect_status("read-only open while another process writes", GWEN_OK, "", [&](char** e) {
        return gwen_engine_open(db.c_str(), &ro, &engine, e);
    });
    gwen_engine_close(engine);
    expect(write(done[1], "x", 1) == 1, "release child");
    int status = 0;
    expect(waitpid(child, &status, 0) == child && WIFEXITED(status) &&
               WEXITSTATUS(status) == 0,
           "child exited cleanly");
    for (int fd : {ready[0], ready[1], done[0], done[1]}) close(fd);
}

void open_errors(const std::string& db, const std::string& scratch) {
    GwenEngine* engine = nullptr;
    expect_status("open null path", GWEN_INVALID_ARGUMENT, "path is null", [&](char** e) {
        return gwen_engine_open(nullptr, nullptr, &engine, e);
    });
    expect_status("open null out", GWEN_INVALID_ARGUMENT, "out_engine is null", [&](char** e) {
        return gwen_engine_open(db.c_str(), nullptr, nullptr, e);
    });
    std::string missing = scratch + "/missing";
    expect_status("open missing dir", GWEN_INVALID_ARGUMENT, "no database", [&](char** e) {
        return gwen_engine_open(missing.c_str(), nullptr, &engine, e);
    });
    std::string empty = scratch + "/empty";
    expect(mkdir(empty.c_str(), 0755) == 0, "mkdir empty");
    expect_status("open non-database", GWEN_INVALID_ARGUMENT, "not a gwen database",
                  [&](char** e) { return gwen_engine_open(empty.c_str(), nullptr, &engine, e); });
    // A store/ folder with nothing in it: no checkpoint to read, no RocksDB to open.
    std::string hollow = scratch + "/hollow";
    expect(mkdir(hollow.c_str(), 0755) == 0 && mkdir((hollow + "/store").c_str(), 0755) == 0,
           "mkdir hollow");
    GwenEngineOptions ro = gwen_engine_options_default();
    ro.read_only = true;
    expect_status("read-only open without checkpoint", GWEN_CORRUPTION, "no checkpoint",
                  [&](char** e) { return gwen_engine_open(hollow.c_str(), &ro, &engine, e); });
    expect_status("open empty store", GWEN_STORE, "No such file", [&](char** e) {
        return gwen_engine_open(hollow.c_str(), nullptr, &engine, e);
    });
    GwenEngineOptions many = gwen_engine_options_default();
    many.threads = GWEN_MAX_THREADS + 1;
    expect_status("open with too many threads", GWEN_INVALID_ARGUMENT, "threads", [&](char** e) {
        return gwen_engine_open(db.c_str(), &many, &engine, e);
    });
    expect(engine == nullptr, "no handle after failed opens");
    // err_msg may be NULL.
    expect(gwen_engine_open(nullptr, nullptr, &engine, nullptr) == GWEN_INVALID_ARGUMENT,
           "NULL err_msg");
}

void introspection_errors(GwenEngine* engine, const Schema& schema) {
    size_t groups = schema.info.group_count;
    GwenSchemaInfo info{};
    expect_status("schema null engine", GWEN_INVALID_ARGUMENT, "engine is null",
                  [&](char** e) { return gwen_engine_schema(nullptr, &info, e); });
    expect_status("schema null out", GWEN_INVALID_ARGUMENT, "out is null",
                  [&](char** e) { return gwen_engine_schema(engine, nullptr, e); });
    GwenGroupInfo group{};
    expect_status("group out of range", GWEN_INVALID_ARGUMENT, "out of range",
                  [&](char** e) { return gwen_engine_group(engine, groups, &group, e); });
    expect_status("group huge index", GWEN_INVALID_ARGUMENT, "out of range", [&](char** e) {
        return gwen_engine_group(engine, std::numeric_limits<size_t>::max(), &group, e);
    });

    size_t len = 0;
    expect_status("group name size query", GWEN_BUFFER_TOO_SMALL, "bytes", [&](char** e) {
        return gwen_engine_group_name(engine, 0, nullptr, 0, &len, e);
    });
    expect(len > 0, "name length reported");
    std::vector<char> name(len + 1, 'x');
    expect_status("group name one byte short", GWEN_BUFFER_TOO_SMALL, "needed", [&](char** e) {
        return gwen_engine_group_name(engine, 0, name.data(), len, &len, e);
    });
    expect(name[0] == 'x', "buffer untouched when too small");
    expect_status("group name fits", GWEN_OK, "", [&](char** e) {
        return gwen_engine_group_name(engine, 0, name.data(), name.size(), &len, e);
    });
    expect(std::strlen(name.data()) == len, "NUL-terminated name");
    expect_status("group name null buf", GWEN_INVALID_ARGUMENT, "buf is null", [&](char** e) {
        return gwen_engine_group_name(engine, 0, nullptr, 16, &len, e);
    });
    expect_status("group name null out_len", GWEN_INVALID_ARGUMENT, "out_len", [&](char** e) {
        return gwen_engine_group_name(engine, 0, name.data(), name.size(), nullptr, e);
    });
    expect_status("group name out of range", GWEN_INVALID_ARGUMENT, "out of range",
                  [&](char** e) {
                      return gwen_engine_group_name(engine, groups, name.data(), name.size(),
                                                    &len, e);
                  });
    char field[32];
    expect_status("field out of range", GWEN_INVALID_ARGUMENT, "field index", [&](char** e) {
        return gwen_engine_group_field(engine, 0, 1000, field, sizeof field, &len, e);
    });

    size_t found = 0;
    expect_status("find existing", GWEN_OK, "", [&](char** e) {
        return gwen_engine_group_find(engine, name.data(), &found, e);
    });
    expect(found == 0, "found group 0 by name");
    expect_status("find unknown", GWEN_NOT_FOUND, "no group", [&](char** e) {
        return gwen_engine_group_find(engine, "no-such-group", &found, e);
    });
    expect_status("find null name", GWEN_INVALID_ARGUMENT, "name is null",
                  [&](char** e) { return gwen_engine_group_find(engine, nullptr, &found, e); });
    GwenStats stats{};
    expect_status("stats null out", GWEN_INVALID_ARGUMENT, "out is null",
                  [&](char** e) { return gwen_engine_stats(engine, nullptr, e); });
    expect_status("stats null engine", GWEN_INVALID_ARGUMENT, "engine is null",
                  [&](char** e) { return gwen_engine_stats(nullptr, &stats, e); });
}

void predict_errors(GwenEngine* engine, const Schema& schema, const std::vector<Record>& recs) {
    Batch b(schema, recs, 0, 4);
    std::vector<float> out(4);
    auto predict = [&](const GwenBatch& batch, size_t out_len) {
        return [&, out_len](char** e) {
            return gwen_engine_predict(engine, &batch, out.data(), out_len, e);
        };
    };
    expect_status("predict ok", GWEN_OK, "", predict(b.c, 4));
    expect_status("predict null engine", GWEN_INVALID_ARGUMENT, "engine is null", [&](char** e) {
        return gwen_engine_predict(nullptr, &b.c, out.data(), 4, e);
    });
    expect_status("predict null batch", GWEN_INVALID_ARGUMENT, "batch is null", [&](char** e) {
        return gwen_engine_predict(engine, nullptr, out.data(), 4, e);
    });
    expect_status("predict null out", GWEN_INVALID_ARGUMENT, "out_probs is null",
                  [&](char** e) { return gwen_engine_predict(engine, &b.c, nullptr, 4, e); });
    expect_status("predict short out", GWEN_INVALID_ARGUMENT, "out_probs holds 3",
                  predict(b.c, 3));

    GwenBatch bad = b.c;
    bad.groups_len = b.c.groups_len - 1;
    expect_status("wrong group count", GWEN_INVALID_ARGUMENT, "groups", predict(bad, 4));
    bad = b.c;
    bad.groups = nullptr;
    expect_status("null groups", GWEN_INVALID_ARGUMENT, "batch.groups is null", predict(bad, 4));
    bad = b.c;
    bad.dense_len = b.c.dense_len - 1;
    expect_status("short dense", GWEN_INVALID_ARGUMENT, "dense values", predict(bad, 4));
    bad = b.c;
    bad.dense = nullptr;
    expect_status("null dense", GWEN_INVALID_ARGUMENT, "batch.dense is null", predict(bad, 4));
    bad = b.c;
    bad.len = std::numeric_limits<size_t>::max();
    expect_status("absurd len", GWEN_INVALID_ARGUMENT, "out_probs", predict(bad, 4));

    // Non-finite dense values.
    for (float v : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
        float saved = b.dense[5];
        b.dense[5] = v;
        expect_status("non-finite dense", GWEN_INVALID_ARGUMENT, "not finite", predict(b.c, 4));
        b.dense[5] = saved;
    }

    // CSR problems in group 0.
    std::vector<GwenGroupIds> groups = b.groups;
    bad = b.c;
    bad.groups = groups.data();
    groups[0].offsets_len = b.groups[0].offsets_len - 1;
    expect_status("short offsets", GWEN_INVALID_ARGUMENT, "offsets", predict(bad, 4));
    groups[0] = b.groups[0];
    groups[0].offsets = nullptr;
    expect_status("null offsets", GWEN_INVALID_ARGUMENT, "offsets is null", predict(bad, 4));
    groups[0] = b.groups[0];
    std::vector<uint32_t> offsets = b.offsets[0];
    groups[0].offsets = offsets.data();
    offsets[1] = offsets[2] + 1;  // decreasing
    expect_status("decreasing offsets", GWEN_INVALID_ARGUMENT, "non-decreasing",
                  predict(bad, 4));
    offsets = b.offsets[0];
    offsets.back() += 1;  // past the ids
    expect_status("offsets past ids", GWEN_INVALID_ARGUMENT, "non-decreasing", predict(bad, 4));
    groups[0] = b.groups[0];
    expect(groups[0].ids_len > 0, "group 0 has ids");
    groups[0].ids = nullptr;
    expect_status("null ids", GWEN_INVALID_ARGUMENT, "ids is null", predict(bad, 4));

    // Weights: any finite value is accepted (weighted pooling), NaN and infinity refused.
    groups[0] = b.groups[0];
    std::vector<float> weights(groups[0].ids_len, 1.0f);
    groups[0].weights = weights.data();
    expect_status("unit weights", GWEN_OK, "", predict(bad, 4));
    weights[0] = 0.5f;
    expect_status("weight 0.5", GWEN_OK, "", predict(bad, 4));
    weights[0] = std::numeric_limits<float>::quiet_NaN();
    expect_status("NaN weight", GWEN_INVALID_ARGUMENT, "not finite", predict(bad, 4));
    weights[0] = std::numeric_limits<float>::infinity();
    expect_status("inf weight", GWEN_INVALID_ARGUMENT, "not finite", predict(bad, 4));

    // An empty batch is fine, even with NULL buffers.
    GwenBatch empty_batch = b.c;
    Batch empty(schema, recs, 0, 0);
    expect_status("empty batch", GWEN_OK, "", [&](char** e) {
        return gwen_engine_predict(engine, &empty.c, nullptr, 0, e);
    });
    (void)empty_batch;
}

void train_and_row_errors(GwenEngine* engine, const Schema& schema,
                          const std::vector<Record>& recs) {
    Batch b(schema, recs, 0, 8);
    expect(b.c.labels_len == 8, "labeled");
    auto train = [&](const GwenBatch& batch) {
        return [&](char** e) { return gwen_engine_train(engine, &batch, nullptr, e); };
    };
    GwenBatch bad = b.c;
    bad.labels_len = 0;
    expect_status("train without labels", GWEN_INVALID_ARGUMENT, "labels", train(bad));
    bad = b.c;
    bad.labels = nullptr;
    expect_status("train null labels", GWEN_INVALID_ARGUMENT, "labels is null", train(bad));
    for (float y : {0.5f, std::numeric_limits<float>::quiet_NaN()}) {
        float saved = b.labels[3];
        b.labels[3] = y;
        expect_status("bad label", GWEN_INVALID_ARGUMENT, "labels must be 0 or 1", train(b.c));
        b.labels[3] = saved;
    }
    expect_status("train null batch", GWEN_INVALID_ARGUMENT, "batch is null", [&](char** e) {
        return gwen_engine_train(engine, nullptr, nullptr, e);
    });

    GwenStats before{}, after{};
    char* err = nullptr;
    check(gwen_engine_stats(engine, &before, &err), err, "stats");
    GwenStepReport report{};
    expect_status("train ok", GWEN_OK, "", [&](char** e) {
        return gwen_engine_train(engine, &b.c, &report, e);
    });
    check(gwen_engine_stats(engine, &after, &err), err, "stats");
    expect(report.step == before.step + 1 && report.samples == 8, "step report");
    expect(after.train_steps == before.train_steps + 1, "rejected batches changed nothing");

    // Rows: the first sample's ids are trained now; an arbitrary id is not.
    size_t g = 0;
    uint64_t id = 0;
    for (size_t c = 0; c < kCategorical; ++c) {
        if (recs[0].ids[c] && schema.column_group[c] >= 0) {
            g = size_t(schema.column_group[c]);
            id = *recs[0].ids[c];
            break;
        }
    }
    size_t dim = schema.dims[g];
    std::vector<float> row(dim + 1, -7.0f);
    expect_status("row ok", GWEN_OK, "", [&](char** e) {
        return gwen_engine_row(engine, g, id, row.data(), dim, e);
    });
    expect(row[dim] == -7.0f, "row writes exactly dim values");
    for (size_t k = 0; k < dim; ++k) expect(std::isfinite(row[k]), "finite row");
    expect_status("row never trained", GWEN_NOT_FOUND, "no row", [&](char** e) {
        return gwen_engine_row(engine, g, 0x0123456789abcdefULL, row.data(), dim, e);
    });
    expect_status("row short buffer", GWEN_INVALID_ARGUMENT, "out_weights holds", [&](char** e) {
        return gwen_engine_row(engine, g, id, row.data(), dim - 1, e);
    });
    expect_status("row null buffer", GWEN_INVALID_ARGUMENT, "out_weights is null",
                  [&](char** e) { return gwen_engine_row(engine, g, id, nullptr, dim, e); });
    expect_status("row group out of range", GWEN_INVALID_ARGUMENT, "out of range",
                  [&](char** e) {
                      return gwen_engine_row(engine, schema.info.group_count, id, row.data(),
                                             dim, e);
                  });
    uint64_t step = 0;
    expect_status("checkpoint ok", GWEN_OK, "", [&](char** e) {
        return gwen_engine_checkpoint(engine, &step, e);
    });
    expect(step == report.step, "checkpoint step");
    expect_status("checkpoint null engine", GWEN_INVALID_ARGUMENT, "engine is null",
                  [&](char** e) { return gwen_engine_checkpoint(nullptr, &step, e); });
}

void read_only_errors(const std::string& db, const Schema& schema,
                      const std::vector<Record>& recs) {
    GwenEngine* engine = open_engine(db, /*read_only=*/true, 1);
    Batch b(schema, recs, 0, 8);
    expect_status("train read-only", GWEN_INVALID_ARGUMENT, "read-only", [&](char** e) {
        return gwen_engine_train(engine, &b.c, nullptr, e);
    });
    expect_status("checkpoint read-only", GWEN_INVALID_ARGUMENT, "read-only", [&](char** e) {
        return gwen_engine_checkpoint(engine, nullptr, e);
    });
    std::vector<float> out(8);
    expect_status("predict read-only", GWEN_OK, "", [&](char** e) {
        return gwen_engine_predict(engine, &b.c, out.data(), out.size(), e);
    });
    gwen_engine_close(engine);
}

void hash_errors() {
    uint64_t id = 0;
    expect_status("hash null field", GWEN_INVALID_ARGUMENT, "field is null", [&](char** e) {
        return gwen_hash_feature(0, nullptr, 2, "x", 1, &id, e);
    });
    expect_status("hash null raw", GWEN_INVALID_ARGUMENT, "raw is null", [&](char** e) {
        return gwen_hash_feature(0, "C1", 2, nullptr, 1, &id, e);
    });
    expect_status("hash null out", GWEN_INVALID_ARGUMENT, "out_id is null", [&](char** e) {
        return gwen_hash_feature(0, "C1", 2, "x", 1, nullptr, e);
    });
    expect_status("hash non-utf8 field", GWEN_INVALID_ARGUMENT, "not UTF-8", [&](char** e) {
        return gwen_hash_feature(0, "\xff\xfe", 2, "x", 1, &id, e);
    });
    expect_status("hash empty raw", GWEN_OK, "", [&](char** e) {
        return gwen_hash_feature(0, "C1", 2, nullptr, 0, &id, e);
    });
    uint64_t seed = 0;
    expect_status("seed null out", GWEN_INVALID_ARGUMENT, "out_seed is null", [&](char** e) {
        return gwen_hash_field_seed(0, "C1", 2, nullptr, e);
    });
    expect_status("feature id null raw", GWEN_INVALID_ARGUMENT, "raw is null", [&](char** e) {
        return gwen_hash_feature_id(seed, nullptr, 3, &id, e);
    });
}

void status_names() {
    const GwenStatus all[] = {GWEN_OK,         GWEN_INVALID_ARGUMENT, GWEN_NOT_FOUND,
                              GWEN_BUFFER_TOO_SMALL, GWEN_IO,      GWEN_PARSE,
                              GWEN_SCHEMA,     GWEN_SCHEMA_MISMATCH, GWEN_CORRUPTION,
                              GWEN_STORE,      GWEN_LOCKED,          GWEN_POISONED,
                              GWEN_OTHER,      GWEN_INTERNAL};
    for (GwenStatus s : all) {
        expect(std::strncmp(gwen_status_name(s), "GWEN_", 5) == 0, "status name");
    }
    expect(std::strcmp(gwen_status_name(GWEN_LOCKED), "GWEN_LOCKED") == 0, "GWEN_LOCKED name");
    expect(std::strcmp(gwen_status_name(999), "GWEN_UNKNOWN_STATUS") == 0, "unknown status");
    gwen_string_free(nullptr);
    gwen_engine_close(nullptr);
}

}  // namespace

int main(int argc, char** argv) {
    expect(argc == 4, "usage: errors_test DB DATA SCRATCH");
    std::string db = argv[1], data = argv[2], scratch = argv[3];

    locked_database(db);
    open_errors(db, scratch);
    hash_errors();
    status_names();

    GwenEngine* engine = open_engine(db, /*read_only=*/false, 1);
    Schema schema(engine);
    std::vector<Record> recs = read_records(schema, data, 0, 64);
    introspection_errors(engine, schema);
    predict_errors(engine, schema, recs);
    train_and_row_errors(engine, schema, recs);
    gwen_engine_close(engine);
    read_only_errors(db, schema, recs);

    std::printf("errors_test: %d checks passed\n", checked);
    return 0;
}
