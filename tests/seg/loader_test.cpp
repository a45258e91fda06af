// Loader: identical batches with 0, 1 and 3 workers (determinism whatever the thread timing),
// order and coverage of an epoch, reshuffling per epoch, drop_last and resampled epoch sizes,
// infinite mode, exact seek for resume, and worker errors rethrown with the sample id.
#include <set>
#include <stdexcept>

#include "seg/data/loader.h"
#include "tests/common/test_util.h"
#include "tests/seg/data_fixtures.h"

namespace pg::seg {
namespace {

// 10 examples of 12x14 (generic layout, PNG), 3 classes.
Dataset small_dataset(const std::string& name, int count = 10) {
    std::string root = fixture::fresh_dir(name);
    fixture::write_generic(root, count, 12, 14, 3);
    GenericConfig c;
    c.root = root;
    c.image_ext = ".png";
    c.list = "list.txt";
    c.num_classes = 3;
    return open_generic(c);
}

// Random scale, flip and crop: every sample's result depends on its generator.
AugmentConfig random_augment() {
    AugmentConfig c = u2pl_train_augment(8);
    c.scale_min = 0.75f;
    c.scale_max = 1.5f;
    return c;
}

std::vector<Batch> take(Loader& loader, int n) {
    std::vector<Batch> out;
    Batch b;
    while (int(out.size()) < n) {
        if (loader.next(b)) out.push_back(b);
    }
    return out;
}

void expect_same(const std::vector<Batch>& a, const std::vector<Batch>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); i++) {
        EXPECT_EQ(a[i].ids, b[i].ids) << "batch " << i;
        EXPECT_EQ(a[i].epoch, b[i].epoch);
        EXPECT_EQ(a[i].step, b[i].step);
        EXPECT_TRUE(pg::test::all_equal(a[i].images, b[i].images)) << "batch " << i;
        EXPECT_TRUE(pg::test::all_equal(a[i].labels, b[i].labels)) << "batch " << i;
    }
}

TEST(Loader, SameBatchesForZeroOneAndThreeWorkers) {
    Dataset d = small_dataset("loader_workers");
    LoaderConfig c;
    c.batch_size = 3;
    c.seed = 7;
    c.workers = 0;
    Loader serial(d, random_augment(), c);
    std::vector<Batch> expected = take(serial, 8); // 4 batches per epoch: two epochs
    ASSERT_EQ(expected[0].images.shape(), Shape({3, 8, 8, 3}));
    ASSERT_EQ(expected[0].labels.shape(), Shape({3, 8, 8}));
    ASSERT_EQ(expected[0].labels.dtype(), DType::i32);
    EXPECT_EQ(expected[3].images.size(0), 1); // 10 = 3 + 3 + 3 + 1
    for (int workers : {1, 3}) {
        c.workers = workers;
        c.prefetch = 4;
        Loader threaded(d, random_augment(), c);
        expect_same(take(threaded, 8), expected);
    }
}

TEST(Loader, EpochCoversTheDatasetInOrderAndReshuffles) {
    Dataset d = small_dataset("loader_order");
    LoaderConfig c;
    c.batch_size = 4;
    c.shuffle = false;
    c.workers = 2;
    Loader plain(d, AugmentConfig(), c);
    EXPECT_EQ(plain.batches_per_epoch(), 3);
    Batch b;
    std::vector<std::string> ids;
    int64_t step = 0;
    while (plain.next(b)) {
        EXPECT_EQ(b.step, step++);
        EXPECT_EQ(b.epoch, 0);
        ids.insert(ids.end(), b.ids.begin(), b.ids.end());
    }
    EXPECT_EQ(ids, (std::vector<std::string>{"ex0", "ex1", "ex2", "ex3", "ex4", "ex5", "ex6", "ex7",
                                             "ex8", "ex9"}));
    // Unaugmented images come through exactly: sample ex1 is fixture::test_image(12, 14, 1).
    EXPECT_EQ(plain.epoch(), 1);
    ASSERT_TRUE(plain.next(b)); // the next epoch starts after one `false`
    EXPECT_EQ(b.images.to_f32_vector()[size_t(12 * 14 * 3)], 70.f);
    // Shuffled: each epoch is a permutation of all ids, and epochs differ.
    c.shuffle = true;
    c.seed = 3;
    Loader shuffled(d, AugmentConfig(), c);
    std::vector<std::vector<std::string>> epochs(2);
    for (int e = 0; e < 2; e++) {
        while (shuffled.next(b))
            epochs[size_t(e)].insert(epochs[size_t(e)].end(), b.ids.begin(), b.ids.end());
        EXPECT_EQ(std::set<std::string>(epochs[size_t(e)].begin(), epochs[size_t(e)].end()),
                  std::set<std::string>(ids.begin(), ids.end()));
    }
    EXPECT_NE(epochs[0], epochs[1]);
    EXPECT_NE(epochs[0], ids);
    // The order is a function of (seed, epoch) only.
    Loader again(d, AugmentConfig(), c);
    EXPECT_EQ(again.epoch_order(1), shuffled.epoch_order(1));
}

TEST(Loader, DropLastSamplesPerEpochAndInfiniteMode) {
    Dataset d = small_dataset("loader_sizes");
    LoaderConfig c;
    c.batch_size = 4;
    c.drop_last = true;
    c.workers = 1;
    Loader dropping(d, AugmentConfig(), c);
    EXPECT_EQ(dropping.batches_per_epoch(), 2);
    // U2PL resamples to N items per epoch: 25 of 10 repeats each id 2 or 3 times.
    c.drop_last = false;
    c.samples_per_epoch = 25;
    Loader resampled(d, AugmentConfig(), c);
    EXPECT_EQ(resampled.batches_per_epoch(), 7);
    std::vector<int64_t> order = resampled.epoch_order(0);
    ASSERT_EQ(order.size(), 25u);
    std::vector<int> count(10, 0);
    for (int64_t i : order) count[size_t(i)]++;
    for (int n : count) EXPECT_TRUE(n == 2 || n == 3) << n;
    // Infinite: never returns false; two loaders advance independently.
    c.samples_per_epoch = 0;
    c.infinite = true;
    c.drop_last = true;
    Loader labeled(d, AugmentConfig(), c);
    c.batch_size = 3;
    Loader unlabeled(d, AugmentConfig(), c);
    Batch b;
    for (int i = 0; i < 7; i++) {
        ASSERT_TRUE(labeled.next(b));
        EXPECT_EQ(b.epoch, i / 2);
        EXPECT_EQ(b.step, i % 2);
        if (i % 2 == 0) { ASSERT_TRUE(unlabeled.next(b)); }
    }
    EXPECT_EQ(labeled.epoch(), 3);
    EXPECT_EQ(unlabeled.epoch(), 1);
    EXPECT_EQ(unlabeled.step(), 1);
    c.samples_per_epoch = 3;
    c.batch_size = 4;
    fixture::expect_error([&] { Loader too_few(d, AugmentConfig(), c); },
                          {"3 samples per epoch", "batch of 4"});
}

TEST(Loader, SeekResumesExactly) {
    Dataset d = small_dataset("loader_seek");
    LoaderConfig c;
    c.batch_size = 3;
    c.seed = 11;
    c.workers = 2;
    c.infinite = true;
    Loader full(d, random_augment(), c);
    std::vector<Batch> all = take(full, 7);
    Loader resumed(d, random_augment(), c);
    take(resumed, 2); // prefetched work from before the seek is dropped
    resumed.seek(all[5].epoch, all[5].step);
    expect_same(take(resumed, 2), {all[5], all[6]});
}

TEST(Loader, WorkerErrorsAreRethrownWithTheSampleId) {
    Dataset d = small_dataset("loader_errors");
    // A truncated image (it passes indexing: the file exists and is not empty).
    const std::string broken = d.files(4).image;
    fixture::truncate_file(broken, 40);
    LoaderConfig c;
    c.batch_size = 2;
    c.shuffle = false;
    c.workers = 3;
    Loader loader(d, AugmentConfig(), c);
    Batch b;
    ASSERT_TRUE(loader.next(b)); // ex0, ex1
    ASSERT_TRUE(loader.next(b)); // ex2, ex3
    fixture::expect_error([&] { loader.next(b); }, {"example 'ex4'", broken});
    ASSERT_TRUE(loader.next(b)); // the loader goes on after the failed batch
    EXPECT_EQ(b.ids[0], "ex6");
    // A transform that throws a non-pg exception: also wrapped with the id.
    SampleTransform failing = [](const Sample& s, Generator& gen) {
        if (s.id == "ex1") throw std::runtime_error("transform refused");
        return augment(s, AugmentConfig(), gen);
    };
    Loader custom(d, failing, c);
    fixture::expect_error([&] { custom.next(b); }, {"example 'ex1'", "transform refused"});
    // Samples of different sizes cannot share a batch.
    c.workers = 0;
    SampleTransform ragged = [](const Sample& s, Generator& gen) {
        return augment(s, resize_only(s.id == "ex1" ? 5 : 6, 6, Interp::bilinear, Normalize()),
                       gen);
    };
    Loader mixed(d, ragged, c);
    fixture::expect_error([&] { mixed.next(b); }, {"'ex1'", "'ex0'", "same batch"});
}

TEST(Loader, UnlabeledBatchesAndEarlyDestruction) {
    std::string root = fixture::fresh_dir("loader_unlabeled");
    fixture::write_generic(root, 6, 12, 14, 3);
    GenericConfig g;
    g.root = root;
    g.image_ext = ".png";
    g.num_classes = 3;
    g.options.labeled = false;
    LoaderConfig c;
    c.batch_size = 2;
    c.workers = 3;
    c.prefetch = 3;
    Loader loader(open_generic(g), random_augment(), c);
    Batch b;
    ASSERT_TRUE(loader.next(b));
    EXPECT_FALSE(b.labels.defined());
    EXPECT_EQ(b.images.shape(), Shape({2, 8, 8, 3}));
    // Leaving scope with workers mid-prefetch joins them cleanly.
}

} // namespace
} // namespace pg::seg

namespace pg::seg {
namespace {

// Rows i of a batch as their own (1, ...) tensors, keyed by sample id and epoch position.
std::map<std::string, std::pair<Tensor, Tensor>> rows_by_id(const Batch& b) {
    std::map<std::string, std::pair<Tensor, Tensor>> out;
    const int64_t n = b.images.size(0), image = b.images.numel() / n, label = b.labels.numel() / n;
    for (int64_t i = 0; i < n; i++) {
        Tensor im = Tensor::empty({image}), lb = Tensor::empty({label}, DType::i32);
        std::copy(b.images.f32() + i * image, b.images.f32() + (i + 1) * image, im.f32());
        std::copy(b.labels.i32() + i * label, b.labels.i32() + (i + 1) * label, lb.i32());
        out[b.ids[size_t(i)]] = {im, lb};
    }
    return out;
}

// DistributedSampler: W ranks with batch b deliver, step by step, exactly the samples (augmented
// alike) of one rank with batch W*b; an epoch that does not divide is padded with its head.
// `world` loaders with a W-th of `one`'s batch deliver, step by step, exactly `one`'s batches: the
// same samples with the same augmentation, and the same epoch numbers.
void expect_shares_make_the_whole(const Dataset& d, const LoaderConfig& one, int world,
                                  int64_t batches_per_epoch, int steps) {
    Loader whole(d, random_augment(), one);
    EXPECT_EQ(whole.batches_per_epoch(), batches_per_epoch);
    std::vector<Batch> expected = take(whole, steps);
    std::vector<std::vector<Batch>> shares;
    for (int rank = 0; rank < world; rank++) {
        LoaderConfig c = one;
        c.batch_size = one.batch_size / world;
        if (one.batch_size % world != 0) { // unequal shares of the global batch
            c.global_batch = one.batch_size;
            c.batch_size = batch_share(one.batch_size, world, rank);
        }
        c.rank = rank;
        c.world = world;
        c.workers = rank; // the share must not depend on the threads either
        Loader share(d, random_augment(), c);
        EXPECT_EQ(share.batches_per_epoch(), batches_per_epoch);
        shares.push_back(take(share, steps));
    }
    for (size_t step = 0; step < expected.size(); step++) {
        auto want = rows_by_id(expected[step]);
        std::map<std::string, std::pair<Tensor, Tensor>> got;
        for (const auto& share : shares) {
            EXPECT_EQ(share[step].epoch, expected[step].epoch);
            for (auto& kv : rows_by_id(share[step])) got.insert(kv);
        }
        ASSERT_EQ(got.size(), want.size()) << "step " << step;
        for (auto& [id, row] : want) {
            ASSERT_TRUE(got.count(id)) << "step " << step << ": " << id << " missing";
            EXPECT_TRUE(test::all_equal(got[id].first, row.first)) << id;
            EXPECT_TRUE(test::all_equal(got[id].second, row.second)) << id;
        }
    }
}

TEST(Loader, RanksSplitEachBatchOfOneProcessWithTheSameAugmentation) {
    Dataset d = small_dataset("loader_ranks", 12);
    LoaderConfig one;
    one.batch_size = 4;
    one.seed = 3;
    one.workers = 0;
    one.infinite = true;
    expect_shares_make_the_whole(d, one, 2, 3, 6); // two epochs of 3 batches
    // With drop_last (training) an epoch is the whole global batches of its order, for any number
    // of processes: 11 samples hold two batches of 4, whether 1 process takes 4 or 2 take 2 each
    // (DistributedSampler's padding to 12 would give the 2 processes a third batch).
    Dataset eleven = small_dataset("loader_ranks_drop", 11);
    one.drop_last = true;
    expect_shares_make_the_whole(eleven, one, 2, 2, 6);
    expect_shares_make_the_whole(eleven, one, 4, 2, 4);
    // A global batch of 4 over 3 processes: shares of 2, 1 and 1.
    EXPECT_EQ(batch_share(4, 3, 0), 2);
    EXPECT_EQ(batch_share(4, 3, 1), 1);
    EXPECT_EQ(batch_share(4, 3, 2), 1);
    expect_shares_make_the_whole(eleven, one, 3, 2, 4);
    LoaderConfig wrong = one; // a batch that is not the rank's share
    wrong.global_batch = 4, wrong.world = 3, wrong.rank = 1, wrong.batch_size = 2;
    fixture::expect_error(
        [&] { Loader l(eleven, random_augment(), wrong); },
        {"rank 1 of 3 takes a batch of 2 from a global batch of 4", "expected its share 1"});
    one.drop_last = false;
    // 10 samples over 3 ranks: 4 positions each, the last two taken from the head again.
    Dataset ten = small_dataset("loader_ranks_pad", 10);
    std::map<std::string, int> seen;
    for (int rank = 0; rank < 3; rank++) {
        LoaderConfig c = one;
        c.batch_size = 4;
        c.rank = rank;
        c.world = 3;
        Loader share(ten, random_augment(), c);
        const std::vector<Batch> first = take(share, 1);
        for (const std::string& id : first[0].ids) seen[id]++;
    }
    EXPECT_EQ(seen.size(), 10u); // every sample once, two of them twice
    int twice = 0;
    for (auto& kv : seen) twice += kv.second == 2;
    EXPECT_EQ(twice, 2);
    LoaderConfig bad = one;
    bad.rank = 2;
    bad.world = 2;
    fixture::expect_error([&] { Loader l(ten, random_augment(), bad); }, {"rank 2 of 2"});
}

} // namespace
} // namespace pg::seg
