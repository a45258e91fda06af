// The collectives across two processes: `mpirun -np 2 pg_tests_dist` (ctest: Dist.TwoProcesses).
// Every test runs on both ranks, which compute the same reference from the same seed and compare
// their own share with it: MPI's all-reduce, broadcast and all-gather; gradient averaging in
// buckets against one all-reduce per tensor and against the mean computed by hand, and averaged
// while backward runs against after it; SyncBN over
// two half batches against batch_norm over the whole batch (values, gradients, running statistics).
#include <gtest/gtest.h>

#include <cstring>

#include "autograd/collective.h"
#include "autograd/engine.h"
#include "autograd/ops.h"
#include "nn/data_parallel.h"
#include "nn/layers.h"
#include "nn/sync_batch_norm.h"
#include "seg/train/u2pl_contrastive.h"
#include "tensor/collectives.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"

namespace pg {
namespace {

using test::all_close;
using test::all_equal;

int rank() { return collectives().rank(); }

TEST(Collectives, RunsAsTwoProcesses) {
    ASSERT_EQ(collectives().world_size(), 2) << "run under mpirun -np 2 (ctest Dist.TwoProcesses)";
    EXPECT_NE(collectives().describe().find("MPI"), std::string::npos);
}

TEST(Collectives, AllReduceBroadcastAndGather) {
    Tensor x = Tensor::from_vector(std::vector<float>{1.f + rank(), 10.f * rank(), -3.f}, {3});
    all_reduce_sum_(x);
    EXPECT_TRUE(all_equal(x, Tensor::from_vector(std::vector<float>{3.f, 10.f, -6.f}, {3})));

    Tensor b = Tensor::from_vector(std::vector<float>{float(rank()), 7.f + rank()}, {2});
    broadcast_(b, 1);
    EXPECT_TRUE(all_equal(b, Tensor::from_vector(std::vector<float>{1.f, 8.f}, {2})));

    Tensor g = all_gather(Tensor::from_vector(std::vector<float>{float(rank()), 5.f}, {1, 2}));
    EXPECT_TRUE(
        all_equal(g, Tensor::from_vector(std::vector<float>{0.f, 5.f, 1.f, 5.f}, {2, 1, 2})));
    // Large counts go through the same path (several MB in one message).
    Tensor big = Tensor::full({1 << 20}, float(rank() + 1));
    all_reduce_sum_(big);
    EXPECT_TRUE(all_equal(big, Tensor::full({1 << 20}, 3.f)));
}

TEST(Collectives, AllGatherRowsTakesEveryProcessesRowsInRankOrder) {
    // Rank 0: 2 rows of 0, rank 1: 3 rows of 1 (rows of 2 x 2).
    Tensor mine = Tensor::full({2 + rank(), 2, 2}, float(rank()));
    std::vector<float> got = all_gather_rows(mine).to_f32_vector();
    ASSERT_EQ(got.size(), 20u);
    for (size_t i = 0; i < got.size(); i++) EXPECT_EQ(got[i], i < 8 ? 0.f : 1.f) << i;
    // No rows on one process.
    Tensor none = rank() == 0 ? Tensor::empty({0, 3}) : Tensor::full({1, 3}, 4.f);
    EXPECT_TRUE(all_equal(all_gather_rows(none), Tensor::full({1, 3}, 4.f)));
}

// U2PL's banks take the negatives of every process, so they stay the same on every process.
TEST(DataParallel, MemoryBankIsFilledFromEveryProcess) {
    seg::u2pl::MemoryBank bank({4, 100}, 3, Device::cpu());
    bank.push_from_every_process({Tensor::full({1 + rank(), 3}, float(10 + rank())),
                                  rank() == 0 ? Tensor::empty({0, 3}) : Tensor::full({2, 3}, 7.f)});
    EXPECT_EQ(bank.size(0), 3);
    EXPECT_EQ(bank.size(1), 2);
    std::vector<float> k0 = bank.keys(0).to_f32_vector();
    EXPECT_EQ(k0[0], 10.f);
    EXPECT_EQ(k0[3], 11.f);
    EXPECT_EQ(k0[8], 11.f);
    // Past the capacity (4) the oldest rows leave, the same on both processes.
    bank.push_from_every_process({Tensor::full({1, 3}, float(20 + rank())), Tensor::empty({0, 3})});
    std::vector<float> all = all_gather(bank.keys(0)).to_f32_vector(); // (2, 4, 3)
    EXPECT_EQ(all[0], 11.f);
    EXPECT_EQ(all[9], 21.f);
    for (size_t i = 0; i < 12; i++) EXPECT_EQ(all[i], all[12 + i]) << i;
    // All classes in one push = each class gathered on its own (a class empty on one process,
    // one empty everywhere), rank order kept.
    Generator gen(40 + uint64_t(rank()));
    std::vector<Tensor> keys;
    for (int64_t n : {int64_t(2 + rank()), int64_t(rank()), int64_t(0), int64_t(3)})
        keys.push_back(test::random_tensor({n, 3}, gen));
    seg::u2pl::MemoryBank together({50, 50, 50, 50}, 3, Device::cpu()),
        apart({50, 50, 50, 50}, 3, Device::cpu());
    together.push_from_every_process(keys);
    for (int64_t c = 0; c < 4; c++) apart.push(c, all_gather_rows(keys[size_t(c)]));
    for (int64_t c = 0; c < 4; c++) {
        ASSERT_EQ(together.size(c), apart.size(c)) << c;
        if (apart.size(c) > 0) { EXPECT_TRUE(all_equal(together.keys(c), apart.keys(c))) << c; }
    }
}

// Parameters with rank-dependent gradients; parameter 2 has a gradient on rank 1 only.
std::vector<Tensor> params_with_grads(uint64_t seed) {
    Generator shapes(seed), grads(seed + 1 + uint64_t(rank()));
    std::vector<Tensor> params;
    for (Shape s : {Shape{7, 3}, Shape{1000}, Shape{4, 4, 2}, Shape{33}}) {
        Tensor p = test::random_tensor(s, shapes).set_requires_grad(true);
        Tensor grad = test::random_tensor(s, grads);
        if (!(params.size() == 2 && rank() == 0)) p.set_grad(grad);
        params.push_back(p);
    }
    return params;
}

TEST(DataParallel, BucketsEqualOneAllReducePerTensorAndTheMean) {
    std::vector<Tensor> by_bucket = params_with_grads(3), per_tensor = params_with_grads(3);
    nn::average_gradients(by_bucket);     // all in one 25 MB bucket
    nn::average_gradients(per_tensor, 1); // a bucket per tensor
    // The mean by hand: each rank's gradients drawn again, rank 0's missing one as zeros.
    for (size_t i = 0; i < by_bucket.size(); i++) {
        EXPECT_TRUE(all_equal(by_bucket[i].grad(), per_tensor[i].grad())) << "parameter " << i;
        Tensor sum = Tensor::zeros(by_bucket[i].shape());
        Generator shapes(3);
        for (int r = 0; r < 2; r++) {
            Generator g(3 + 1 + uint64_t(r));
            for (size_t j = 0; j <= i; j++) {
                Tensor draw = test::random_tensor(by_bucket[j].shape(), g);
                if (j == i && !(i == 2 && r == 0)) sum = add(sum, draw);
            }
        }
        EXPECT_TRUE(all_close(by_bucket[i].grad(), mul(sum, 0.5f), 1e-7f, 1e-6f)) << i;
    }
}

// Five parameters, the same on both processes; parameter 4 has a gradient from an earlier pass on
// rank 1 only.
std::vector<Tensor> overlap_params() {
    Generator gen(11);
    std::vector<Tensor> params;
    for (Shape s : {Shape{7, 3}, Shape{1000}, Shape{4, 4, 2}, Shape{33}, Shape{5}})
        params.push_back(test::random_tensor(s, gen).set_requires_grad(true));
    if (rank() == 1) params[4].set_grad(Tensor::full({5}, 0.5f));
    return params;
}

// A pass with a blocking collective inside (all_reduce_sum's backward, as SyncBN's) that the
// processes meet at different points of their gradient buckets: rank 0 does not use parameter 2,
// so its bucket starts before the pass, and rank 1's only after the collective (the engine runs
// the older term last); no one uses 3 or 4.
Tensor overlap_loss(const std::vector<Tensor>& p) {
    Generator gen(20 + uint64_t(rank()));
    Tensor x0 = test::random_tensor({7, 3}, gen), x1 = test::random_tensor({1000}, gen);
    Tensor loss =
        rank() == 1 ? sum(mul(p[2], test::random_tensor({4, 4, 2}, gen))) : Tensor::zeros({});
    loss = add(loss, sum(mul(all_reduce_sum(mul(p[1], x1)), x1)));
    return add(loss, sum(mul(mul(p[0], p[0]), x0)));
}

TEST(DataParallel, GradientsAveragedDuringBackwardEqualTheAverageAfterIt) {
    std::vector<Tensor> watched = overlap_params(), after = overlap_params();
    // Buckets of 64 bytes after a first of 16: one parameter each, started in reverse order.
    nn::BackwardGradientAverage overlap(watched, 64, 16);
    ASSERT_EQ(overlap.buckets(), 5u);
    observe_next_backward(&overlap);
    backward(overlap_loss(watched));
    EXPECT_TRUE(overlap.started());
    EXPECT_EQ(overlap.buckets_started(), 5u); // all of them while the pass ran
    overlap.finish();
    backward(overlap_loss(after));
    nn::average_gradients(after);
    for (size_t i = 0; i < watched.size(); i++) {
        ASSERT_EQ(watched[i].grad().defined(), after[i].grad().defined()) << "parameter " << i;
        if (after[i].grad().defined()) {
            EXPECT_TRUE(all_equal(watched[i].grad(), after[i].grad())) << "parameter " << i;
        }
    }
    EXPECT_FALSE(watched[3].grad().defined()); // no process had one
    EXPECT_TRUE(all_equal(watched[4].grad(), Tensor::full({5}, 0.25f)));
    // The next pass is not watched unless asked again; a second watch reuses the buckets.
    observe_next_backward(&overlap);
    for (Tensor& p : watched) p.set_grad(Tensor());
    backward(overlap_loss(watched));
    overlap.finish();
    for (Tensor& p : after) p.set_grad(Tensor());
    backward(overlap_loss(after));
    nn::average_gradients(after);
    EXPECT_TRUE(all_equal(watched[1].grad(), after[1].grad()));
    // A gradient replaced after the pass packed it would be lost: finish() says so.
    observe_next_backward(&overlap);
    for (Tensor& p : watched) p.set_grad(Tensor());
    backward(overlap_loss(watched));
    watched[0].set_grad(Tensor::zeros({7, 3}));
    EXPECT_THROW(overlap.finish(), Error);
}

TEST(DataParallel, BroadcastModuleCopiesRankZerosParametersAndBuffers) {
    nn::BatchNorm2d bn(3);
    {
        NoGradGuard no_grad;
        fill_(bn.weight, 1.f + float(rank()));
        fill_(bn.running_mean, 5.f * float(rank()) - 1.f);
    }
    nn::broadcast_module(bn);
    EXPECT_TRUE(all_equal(bn.weight, Tensor::full({3}, 1.f)));
    EXPECT_TRUE(all_equal(bn.running_mean, Tensor::full({3}, -1.f)));
    EXPECT_TRUE(bn.weight.requires_grad());
}

// Rows [rank * N/2, (rank + 1) * N/2) of an (N, H, W, C) tensor.
Tensor half(const Tensor& t) {
    const int64_t n = t.size(0) / 2, per = t.numel() / t.size(0);
    Shape s = t.shape();
    s[0] = n;
    Tensor out = Tensor::empty(s);
    std::memcpy(out.f32(), t.f32() + rank() * n * per, size_t(n * per) * sizeof(float));
    return out;
}

TEST(SyncBatchNorm, TwoHalfBatchesEqualBatchNormOverTheWholeBatch) {
    Generator gen(9); // the same draws on both ranks
    Tensor x_all = test::random_tensor({4, 3, 5, 6}, gen, -2.f, 3.f);
    Tensor dy_all = test::random_tensor({4, 3, 5, 6}, gen);
    Tensor w0 = test::random_tensor({6}, gen, 0.5f, 1.5f), b0 = test::random_tensor({6}, gen);
    Tensor rm0 = test::random_tensor({6}, gen);
    for (bool relu : {false, true}) {
        SCOPED_TRACE(relu ? "relu" : "no relu");
        // Reference: one process, the whole batch.
        Tensor x = x_all.clone().set_requires_grad(true), w = w0.clone().set_requires_grad(true),
               b = b0.clone().set_requires_grad(true);
        Tensor rm = rm0.clone(), rv = Tensor::ones({6});
        Tensor y =
            relu ? batch_norm_relu(x, w, b, rm, rv, true) : batch_norm(x, w, b, rm, rv, true);
        backward(y, dy_all);
        // This rank: its half, statistics and gradient terms shared with the other rank.
        Tensor xs = half(x_all).set_requires_grad(true), ws = w0.clone().set_requires_grad(true),
               bs = b0.clone().set_requires_grad(true);
        Tensor rms = rm0.clone(), rvs = Tensor::ones({6});
        Tensor ys = nn::sync_batch_norm(xs, ws, bs, rms, rvs, 0.1f, 1e-5f, relu);
        backward(ys, half(dy_all));
        EXPECT_TRUE(all_close(ys, half(y), 1e-5f, 1e-5f));
        EXPECT_TRUE(all_close(xs.grad(), half(x.grad()), 1e-5f, 1e-4f));
        // Parameter gradients: this rank's rows only; their sum over ranks is the whole batch's
        // (the optimizer's average_gradients then takes the mean, as DDP does).
        Tensor dw = ws.grad().clone(), db = bs.grad().clone();
        all_reduce_sum_(dw);
        all_reduce_sum_(db);
        EXPECT_TRUE(all_close(dw, w.grad(), 1e-5f, 1e-4f));
        EXPECT_TRUE(all_close(db, b.grad(), 1e-5f, 1e-4f));
        EXPECT_TRUE(all_close(rms, rm, 1e-6f, 1e-5f)); // the whole batch's mean and unbiased var
        EXPECT_TRUE(all_close(rvs, rv, 1e-6f, 1e-5f));
    }
}

TEST(SyncBatchNorm, TheLayerSynchronisesOnlyWhenConverted) {
    Generator gen(4 + uint64_t(rank())); // different data on each rank
    Tensor x = test::random_tensor({2, 3, 3, 4}, gen);
    nn::BatchNorm2d local(4), synced(4);
    nn::convert_sync_batch_norm(synced);
    local.train();
    synced.train();
    local.forward(x);
    synced.forward(x);
    // Plain BN keeps each rank's own statistics; SyncBN's are the whole batch's on both ranks.
    std::vector<float> l = all_gather(local.running_mean).to_f32_vector(); // (2, 4)
    std::vector<float> s = all_gather(synced.running_mean).to_f32_vector();
    bool local_differs = false;
    for (int c = 0; c < 4; c++) {
        local_differs |= l[size_t(c)] != l[size_t(4 + c)];
        EXPECT_EQ(s[size_t(c)], s[size_t(4 + c)]) << "channel " << c;
    }
    EXPECT_TRUE(local_differs);
}

} // namespace
} // namespace pg
