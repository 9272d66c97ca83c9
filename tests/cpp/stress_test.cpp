// Eight threads predict on one engine handle while one thread trains and one checkpoints (and
// reads rows and stats), for a bounded time. Every call must succeed and every prediction must
// be a finite probability.
//
// usage: stress_test DB DATA SECONDS
//   DB is a read-write database (it is trained further); DATA a labeled Criteo file.
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>

#include "common.hpp"

using namespace gwen_test;
using Clock = std::chrono::steady_clock;

namespace {

std::mutex first_error_mutex;
std::string first_error;
std::atomic<uint64_t> errors{0};

void record(GwenStatus status, char* err, const char* what) {
    if (status == GWEN_OK) return;
    errors.fetch_add(1);
    std::lock_guard<std::mutex> lock(first_error_mutex);
    if (first_error.empty()) {
        first_error = std::string(what) + ": " + gwen_status_name(status) + ": " + (err ? err : "");
    }
    gwen_string_free(err);
}

}  // namespace

int main(int argc, char** argv) {
    expect(argc == 4, "usage: stress_test DB DATA SECONDS");
    std::string db = argv[1], data = argv[2];
    double seconds = std::stod(argv[3]);

    GwenEngine* engine = open_engine(db, /*read_only=*/false, /*threads=*/2);
    Schema schema(engine);
    std::vector<Record> records = read_records(schema, data, 0, 4000);
    expect(records.size() >= 1024, "enough lines");

    // Batches of varied sizes for predictors; labeled batches of 128 for the trainer.
    std::vector<std::unique_ptr<Batch>> predict_batches, train_batches;
    const size_t sizes[] = {1, 7, 64, 200};
    for (size_t i = 0, begin = 0; begin + 200 <= records.size(); ++i, begin += 97) {
        size_t len = sizes[i % 4];
        predict_batches.push_back(std::make_unique<Batch>(schema, records, begin, begin + len));
    }
    for (size_t begin = 0; begin + 128 <= records.size(); begin += 128) {
        train_batches.push_back(std::make_unique<Batch>(schema, records, begin, begin + 128));
        expect(train_batches.back()->c.labels_len == 128, "labeled training batch");
    }

    auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
    std::atomic<uint64_t> predictions{0}, non_finite{0}, steps{0}, checkpoints{0}, rows{0};
    std::vector<std::thread> threads;

    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            std::vector<float> out(200);
            for (size_t i = size_t(t); Clock::now() < deadline; i += 8) {
                const Batch& b = *predict_batches[i % predict_batches.size()];
                char* err = nullptr;
                GwenStatus s = gwen_engine_predict(engine, &b.c, out.data(), out.size(), &err);
                record(s, err, "predict");
                if (s != GWEN_OK) continue;
                for (size_t k = 0; k < b.len; ++k) {
                    if (!std::isfinite(out[k]) || out[k] < 0.0f || out[k] > 1.0f) non_finite++;
                }
                predictions += b.len;
            }
        });
    }
    threads.emplace_back([&] {
        for (size_t i = 0; Clock::now() < deadline; ++i) {
            GwenStepReport report{};
            char* err = nullptr;
            GwenStatus s = gwen_engine_train(engine, &train_batches[i % train_batches.size()]->c,
                                             &report, &err);
            record(s, err, "train");
            if (s == GWEN_OK) steps++;
            if (s == GWEN_OK && !std::isfinite(report.loss_sum)) non_finite++;
        }
    });
    threads.emplace_back([&] {
        std::vector<float> row(schema.dims[0]);
        const Record& first = records[0];
        while (Clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(150));
            uint64_t step = 0;
            char* err = nullptr;
            record(gwen_engine_checkpoint(engine, &step, &err), err, "checkpoint");
            checkpoints++;
            GwenStats stats{};
            record(gwen_engine_stats(engine, &stats, &err), err, "stats");
            // A row of the first sample's first group column, trained by now or not yet.
            for (size_t c = 0; c < kCategorical; ++c) {
                if (schema.column_group[c] != 0 || !first.ids[c]) continue;
                GwenStatus s = gwen_engine_row(engine, 0, *first.ids[c], row.data(), row.size(),
                                               &err);
                if (s == GWEN_NOT_FOUND) {
                    gwen_string_free(err);
                } else {
                    record(s, err, "row");
                    for (float v : row) {
                        if (!std::isfinite(v)) non_finite++;
                    }
                    rows++;
                }
                break;
            }
        }
    });
    for (auto& t : threads) t.join();

    GwenStats stats{};
    char* err = nullptr;
    check(gwen_engine_stats(engine, &stats, &err), err, "gwen_engine_stats");
    gwen_engine_close(engine);

    std::printf(
        "stress_test: %.1fs, %llu predictions, %llu train steps, %llu checkpoints, %llu rows, "
        "%llu errors, %llu non-finite\n",
        seconds, (unsigned long long)predictions.load(), (unsigned long long)steps.load(),
        (unsigned long long)checkpoints.load(), (unsigned long long)rows.load(),
        (unsigned long long)errors.load(), (unsigned long long)non_finite.load());
    expect(errors == 0, "no call failed; first: " + first_error);
    expect(non_finite == 0, "every prediction, loss and row value is finite");
    expect(predictions > 0 && steps > 0 && checkpoints > 0, "every thread made progress");
    expect(stats.train_steps == steps, "stats count the train steps");
    return 0;
}
