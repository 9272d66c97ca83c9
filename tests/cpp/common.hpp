// Helpers shared by the C++ client tests: status checks, Criteo line parsing with the C hash
// functions, and building CSR batches for the C API.
//
// The parsing mirrors the engine's Criteo reader: tab-separated `label, I1..I13, C1..C26`
// (40 columns) or `I1..I13, C1..C26` (39 columns); a dense value x becomes ln(1 + max(x, 0)),
// missing is 0; a non-empty categorical column C<k> becomes gwen_hash_feature("C<k>", raw).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gwen.h"

namespace gwen_test {

[[noreturn]] inline void fail(const std::string& what) {
    std::fprintf(stderr, "FAIL: %s\n", what.c_str());
    std::fflush(stderr);
    std::exit(1);
}

inline void expect(bool ok, const std::string& what) {
    if (!ok) fail(what);
}

// Fails with the call's message unless it returned GWEN_OK; frees the message either way.
inline void check(GwenStatus status, char* err, const std::string& what) {
    std::string message = err ? err : "";
    gwen_string_free(err);
    if (status != GWEN_OK) {
        fail(what + ": " + gwen_status_name(status) + ": " + message);
    }
}

constexpr size_t kDense = 13;
constexpr size_t kCategorical = 26;

struct Record {
    std::optional<float> label;
    float dense[kDense];
    // Per categorical column: the id, or nothing when the column is empty.
    std::optional<uint64_t> ids[kCategorical];
};

inline std::vector<std::string> split_tabs(const std::string& line) {
    std::vector<std::string> out;
    size_t start = 0;
    while (true) {
        size_t tab = line.find('\t', start);
        out.push_back(line.substr(start, tab == std::string::npos ? tab : tab - start));
        if (tab == std::string::npos) return out;
        start = tab + 1;
    }
}

inline float dense_value(const std::string& raw) {
    if (raw.empty()) return 0.0f;
    char* end = nullptr;
    double x = std::strtod(raw.c_str(), &end);
    expect(end && *end == '\0' && std::isfinite(x), "dense value is a number: " + raw);
    return static_cast<float>(std::log1p(x > 0.0 ? x : 0.0));
}

// The model's view of the data: hash seed and, per categorical column, its group (or -1).
class Schema {
public:
    explicit Schema(const GwenEngine* engine) {
        char* err = nullptr;
        check(gwen_engine_schema(engine, &info, &err), err, "gwen_engine_schema");
        for (size_t c = 0; c < kCategorical; ++c) column_group[c] = -1;
        for (size_t g = 0; g < info.group_count; ++g) {
            GwenGroupInfo group{};
            check(gwen_engine_group(engine, g, &group, &err), err, "gwen_engine_group");
            dims.push_back(group.dim);
            for (size_t f = 0; f < group.field_count; ++f) {
                char name[64];
                size_t len = 0;
                check(gwen_engine_group_field(engine, g, f, name, sizeof name, &len, &err), err,
                      "gwen_engine_group_field");
                expect(name[0] == 'C', std::string("criteo field name: ") + name);
                int column = std::atoi(name + 1) - 1;
                expect(column >= 0 && column < int(kCategorical), "criteo field index");
                column_group[column] = int(g);
            }
        }
        for (size_t c = 0; c < kCategorical; ++c) {
            std::string field = "C" + std::to_string(c + 1);
            check(gwen_hash_field_seed(info.hash_seed, field.data(), field.size(),
                                       &field_seeds[c], &err),
                  err, "gwen_hash_field_seed");
        }
    }

    // Parses one line; the first `hash_checks` calls also compare the one-shot hash.
    Record parse(const std::string& line) {
        std::vector<std::string> cols = split_tabs(line);
        expect(cols.size() == 40 || cols.size() == 39, "39 or 40 columns: " + line);
        size_t first = cols.size() == 40 ? 1 : 0;
        Record r;
        if (first == 1) {
            expect(cols[0] == "0" || cols[0] == "1", "label 0 or 1");
            r.label = cols[0] == "1" ? 1.0f : 0.0f;
        }
        for (size_t i = 0; i < kDense; ++i) r.dense[i] = dense_value(cols[first + i]);
        for (size_t c = 0; c < kCategorical; ++c) {
            const std::string& raw = cols[first + kDense + c];
            if (raw.empty()) continue;
            uint64_t id = 0;
            char* err = nullptr;
            check(gwen_hash_feature_id(field_seeds[c], raw.data(), raw.size(), &id, &err), err,
                  "gwen_hash_feature_id");
            if (one_shot_checks > 0) {
                --one_shot_checks;
                std::string field = "C" + std::to_string(c + 1);
                uint64_t again = 0;
                check(gwen_hash_feature(info.hash_seed, field.data(), field.size(), raw.data(),
                                        raw.size(), &again, &err),
                      err, "gwen_hash_feature");
                expect(again == id, "one-shot and seeded hashes agree");
            }
            r.ids[c] = id;
        }
        return r;
    }

    GwenSchemaInfo info{};
    std::vector<size_t> dims;
    int column_group[kCategorical];
    uint64_t field_seeds[kCategorical];
    int one_shot_checks = 1000;
};

// Owns the arrays a GwenBatch points into.
struct Batch {
    size_t len = 0;
    std::vector<std::vector<uint32_t>> offsets;
    std::vector<std::vector<uint64_t>> ids;
    std::vector<float> dense;
    std::vector<float> labels;
    std::vector<GwenGroupIds> groups;
    GwenBatch c{};

    // Ids of a group are in column order, as the engine's reader builds them.
    Batch(const Schema& schema, const std::vector<Record>& records, size_t begin, size_t end) {
        size_t groups_n = schema.info.group_count;
        offsets.assign(groups_n, std::vector<uint32_t>{0});
        ids.assign(groups_n, {});
        for (size_t i = begin; i < end; ++i) {
            const Record& r = records[i];
            dense.insert(dense.end(), r.dense, r.dense + kDense);
            if (r.label) labels.push_back(*r.label);
            for (size_t c = 0; c < kCategorical; ++c) {
                int g = schema.column_group[c];
                if (g >= 0 && r.ids[c]) ids[g].push_back(*r.ids[c]);
            }
            for (size_t g = 0; g < groups_n; ++g) offsets[g].push_back(uint32_t(ids[g].size()));
        }
        len = end - begin;
        if (labels.size() != len) labels.clear();
        for (size_t g = 0; g < groups_n; ++g) {
            groups.push_back(GwenGroupIds{offsets[g].data(), offsets[g].size(), ids[g].data(),
                                          ids[g].size(), nullptr});
        }
        c = GwenBatch{len,          groups.data(),   groups.size(), dense.data(),
                      dense.size(), labels.data(), labels.size()};
    }

    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;
};

inline std::vector<Record> read_records(Schema& schema, const std::string& path, size_t skip,
                                        size_t max) {
    std::ifstream in(path);
    expect(bool(in), "open " + path);
    std::vector<Record> out;
    std::string line;
    for (size_t n = 0; std::getline(in, line) && out.size() < max; ++n) {
        if (n < skip) continue;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        out.push_back(schema.parse(line));
    }
    return out;
}

inline GwenEngine* open_engine(const std::string& db, bool read_only, uint32_t threads) {
    GwenEngineOptions options = gwen_engine_options_default();
    options.read_only = read_only;
    options.threads = threads;
    GwenEngine* engine = nullptr;
    char* err = nullptr;
    check(gwen_engine_open(db.c_str(), &options, &engine, &err), err, "gwen_engine_open " + db);
    expect(engine != nullptr, "engine handle");
    return engine;
}

}  // namespace gwen_test
