// Prediction benchmark through the C API: latency of one-sample predictions with every row
// cached (p50, p99), and throughput of 2 threads predicting batches of 1, 64 and 1024.
// Prints one JSON object.
//
// usage: bench DB DATA LINES SECONDS ENGINE_THREADS
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "common.hpp"

using namespace gwen_test;
using Clock = std::chrono::steady_clock;

namespace {

void predict(GwenEngine* engine, const Batch& b, std::vector<float>& out) {
    char* err = nullptr;
    check(gwen_engine_predict(engine, &b.c, out.data(), out.size(), &err), err, "predict");
}

}  // namespace

int main(int argc, char** argv) {
    expect(argc == 6, "usage: bench DB DATA LINES SECONDS ENGINE_THREADS");
    std::string db = argv[1], data = argv[2];
    size_t lines = std::stoul(argv[3]);
    double seconds = std::stod(argv[4]);
    uint32_t engine_threads = uint32_t(std::stoul(argv[5]));

    GwenEngine* engine = open_engine(db, /*read_only=*/true, engine_threads);
    Schema schema(engine);
    std::vector<Record> records = read_records(schema, data, 0, lines);
    expect(records.size() >= 1024, "at least 1024 lines");

    std::vector<std::unique_ptr<Batch>> singles;
    for (size_t i = 0; i < records.size(); ++i) {
        singles.push_back(std::make_unique<Batch>(schema, records, i, i + 1));
    }
    std::vector<float> out(1024);
    // Warm-up: every row of these lines is read once and stays in the RAM tier.
    for (size_t i = 0; i < records.size(); i += 1024) {
        Batch b(schema, records, i, std::min(records.size(), i + 1024));
        predict(engine, b, out);
    }
    GwenStats warm{};
    char* err = nullptr;
    check(gwen_engine_stats(engine, &warm, &err), err, "stats");

    // Latency: one sample per call, one thread.
    std::vector<double> us;
    auto latency_end = Clock::now() + std::chrono::duration<double>(seconds);
    for (size_t i = 0; Clock::now() < latency_end || us.size() < 1000; ++i) {
        const Batch& b = *singles[i % singles.size()];
        auto t0 = Clock::now();
        predict(engine, b, out);
        us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    std::sort(us.begin(), us.end());
    double p50 = us[us.size() / 2], p99 = us[us.size() * 99 / 100];
    GwenStats after{};
    check(gwen_engine_stats(engine, &after, &err), err, "stats");
    uint64_t misses = after.cache_misses - warm.cache_misses;

    // Throughput: 2 threads, fixed batch size, each thread cycling through the lines.
    std::string throughput;
    for (size_t batch : {size_t(1), size_t(64), size_t(1024)}) {
        std::vector<std::unique_ptr<Batch>> batches;
        for (size_t i = 0; i + batch <= records.size() && batches.size() < 64; i += batch) {
            batches.push_back(std::make_unique<Batch>(schema, records, i, i + batch));
        }
        std::atomic<uint64_t> samples{0};
        auto t0 = Clock::now();
        auto end = t0 + std::chrono::duration<double>(seconds);
        std::vector<std::thread> threads;
        for (int t = 0; t < 2; ++t) {
            threads.emplace_back([&, t] {
                std::vector<float> probs(batch);
                uint64_t n = 0;
                for (size_t i = size_t(t); Clock::now() < end; i += 2) {
                    predict(engine, *batches[i % batches.size()], probs);
                    n += batch;
                }
                samples += n;
            });
        }
        for (auto& t : threads) t.join();
        double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
        char entry[160];
        std::snprintf(entry, sizeof entry, "%s\"%zu\": %.0f", throughput.empty() ? "" : ", ",
                      batch, double(samples.load()) / elapsed);
        throughput += entry;
    }
    gwen_engine_close(engine);

    std::printf(
        "{\"groups\": %zu, \"lines\": %zu, \"engine_threads\": %u, \"latency_calls\": %zu, "
        "\"latency_cache_misses\": %llu, \"p50_us\": %.1f, \"p99_us\": %.1f, "
        "\"throughput_samples_per_s_2_threads\": {%s}}\n",
        schema.info.group_count, records.size(), engine_threads, us.size(),
        (unsigned long long)misses, p50, p99, throughput.c_str());
    return 0;
}
