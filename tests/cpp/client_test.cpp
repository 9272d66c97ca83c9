// Opens a database trained by the gwen CLI, hashes raw Criteo lines with the C hashing
// functions, predicts them through the C API and compares with `gwen predict` on the same lines.
//
// usage: client_test DB DATA SKIP COUNT EXPECTED BATCH
//   DATA lines SKIP .. SKIP+COUNT are predicted in batches of BATCH; EXPECTED holds one
//   probability per line as written by `gwen predict --skip-lines SKIP --max-lines COUNT`.
#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>

#include "common.hpp"

using namespace gwen_test;

int main(int argc, char** argv) {
    expect(argc == 7, "usage: client_test DB DATA SKIP COUNT EXPECTED BATCH");
    std::string db = argv[1], data = argv[2], expected_path = argv[5];
    size_t skip = std::stoul(argv[3]), count = std::stoul(argv[4]), batch = std::stoul(argv[6]);

    expect(gwen_abi_version() == GWEN_ABI_VERSION, "header and library ABI versions agree");
    expect(std::strlen(gwen_version()) > 0, "version string");

    GwenEngine* engine = open_engine(db, /*read_only=*/true, /*threads=*/2);
    Schema schema(engine);
    std::vector<Record> records = read_records(schema, data, skip, count);
    expect(records.size() == count, "read all requested lines");

    std::vector<double> expected;
    std::ifstream in(expected_path);
    for (double p; in >> p;) expected.push_back(p);
    expect(expected.size() == count, "one expected prediction per line");

    std::vector<float> probs(count);
    for (size_t begin = 0; begin < count; begin += batch) {
        size_t end = std::min(count, begin + batch);
        auto b = std::make_unique<Batch>(schema, records, begin, end);
        char* err = nullptr;
        check(gwen_engine_predict(engine, &b->c, probs.data() + begin, end - begin, &err), err,
              "gwen_engine_predict");
    }

    double max_diff = 0.0;
    for (size_t i = 0; i < count; ++i) {
        expect(std::isfinite(probs[i]) && probs[i] > 0.0f && probs[i] < 1.0f, "probability");
        double diff = std::fabs(double(probs[i]) - expected[i]);
        if (diff > max_diff) max_diff = diff;
        if (diff > 1e-6) {
            fail("line " + std::to_string(skip + i + 1) + ": C API " + std::to_string(probs[i]) +
                 ", gwen predict " + std::to_string(expected[i]));
        }
    }

    GwenStats stats{};
    char* err = nullptr;
    check(gwen_engine_stats(engine, &stats, &err), err, "gwen_engine_stats");
    expect(stats.cache_hits + stats.cache_misses > 0, "lookups counted");
    gwen_engine_close(engine);
    std::printf("client_test: %zu predictions match gwen predict (max abs diff %.3g, groups %zu)\n",
                count, max_diff, schema.info.group_count);
    return 0;
}
