// SyncBatchNorm in one process (nn/sync_batch_norm.h): the composed path against batch_norm's
// kernels (values, gradients, running statistics), its gradcheck, on each device; and the layer
// switch. The same function across two processes: tests/dist/ (run under mpirun).
#include <gtest/gtest.h>

#include "autograd/ops.h"
#include "nn/layers.h"
#include "nn/sync_batch_norm.h"
#include "tests/common/test_util.h"

namespace pg {
namespace {

using test::all_close;

class SyncBatchNormDevice : public test::DeviceTest {};

TEST_P(SyncBatchNormDevice, OneProcessEqualsBatchNorm) {
    Generator gen(31);
    Tensor x0 = test::random_tensor({3, 5, 4, 6}, gen, -2.f, 3.f);
    Tensor w0 = test::random_tensor({6}, gen, 0.5f, 1.5f), b0 = test::random_tensor({6}, gen);
    Tensor rm0 = test::random_tensor({6}, gen), dy = test::random_tensor({3, 5, 4, 6}, gen);
    for (bool relu : {false, true}) {
        SCOPED_TRACE(relu ? "relu" : "no relu");
        auto run = [&](bool sync) {
            Tensor x = x0.to(device()).clone().set_requires_grad(true);
            Tensor w = w0.to(device()).clone().set_requires_grad(true);
            Tensor b = b0.to(device()).clone().set_requires_grad(true);
            Tensor rm = rm0.to(device()).clone(), rv = Tensor::ones({6}, DType::f32, device());
            Tensor y = sync   ? nn::sync_batch_norm(x, w, b, rm, rv, 0.1f, 1e-5f, relu)
                       : relu ? batch_norm_relu(x, w, b, rm, rv, true, 0.1f, 1e-5f)
                              : batch_norm(x, w, b, rm, rv, true, 0.1f, 1e-5f);
            backward(y, dy.to(device()));
            std::vector<Tensor> out{y, x.grad(), w.grad(), b.grad(), rm, rv};
            for (Tensor& t : out) t = t.to(Device::cpu());
            return out;
        };
        std::vector<Tensor> sync = run(true), plain = run(false);
        const char* names[] = {"y", "dx", "dweight", "dbias", "running_mean", "running_var"};
        for (size_t i = 0; i < sync.size(); i++)
            EXPECT_TRUE(all_close(sync[i], plain[i], 1e-4f, 1e-4f)) << names[i];
    }
}
PG_INSTANTIATE_DEVICE_SUITE(SyncBatchNormDevice);

TEST(SyncBatchNormGrad, Gradcheck) {
    Generator gen(5);
    Tensor x = test::random_leaf({2, 3, 2, 4}, gen, -2.f, 2.f);
    Tensor w = test::random_leaf({4}, gen, 0.5f, 1.5f);
    Tensor b = test::random_leaf({4}, gen, -0.5f, 0.5f);
    Tensor rm = Tensor::zeros({4}), rv = Tensor::ones({4});
    PG_EXPECT_GRADCHECK(
        [&](const std::vector<Tensor>& in) {
            return nn::sync_batch_norm(in[0], in[1], in[2], rm, rv, 0.1f, 1e-5f, false);
        },
        {x, w, b});
}

TEST(SyncBatchNorm, RejectsBadShapesAndOneValuePerChannel) {
    Tensor w = Tensor::ones({4}), b = Tensor::zeros({4}), rm = Tensor::zeros({4}),
           rv = Tensor::ones({4});
    test::expect_error(
        [&] {
            nn::sync_batch_norm(Tensor::zeros({2, 4}), w, b, rm, rv, 0.1f, 1e-5f, false);
        },
        "expected (N, H, W, C)");
    test::expect_error(
        [&] {
            nn::sync_batch_norm(Tensor::zeros({2, 1, 1, 3}), w, b, rm, rv, 0.1f, 1e-5f, false);
        },
        "3 channels");
    test::expect_error(
        [&] {
            nn::sync_batch_norm(Tensor::zeros({1, 1, 1, 4}), w, b, rm, rv, 0.1f, 1e-5f, false);
        },
        "need more than 1");
}

TEST(SyncBatchNorm, ConvertSwitchesEveryBatchNormAndOneProcessKeepsTheKernels) {
    nn::Sequential net;
    net.add(std::make_shared<nn::BatchNorm2d>(4));
    net.add(std::make_shared<nn::ReLU>());
    auto inner = std::make_shared<nn::Sequential>();
    inner->add(std::make_shared<nn::BatchNorm2d>(4));
    net.add(inner);
    nn::convert_sync_batch_norm(net);
    auto* first = dynamic_cast<nn::BatchNorm2d*>(net.children()[0].second.get());
    auto* nested = dynamic_cast<nn::BatchNorm2d*>(inner->children()[0].second.get());
    ASSERT_TRUE(first && nested);
    EXPECT_TRUE(first->sync() && nested->sync());
    // One process: the layer's output is batch_norm's, bit for bit (the kernels run).
    Generator gen(2);
    Tensor x = test::random_tensor({2, 3, 3, 4}, gen);
    net.train();
    Tensor y_sync = net.forward(x);
    nn::convert_sync_batch_norm(net, false);
    EXPECT_FALSE(first->sync() || nested->sync());
    EXPECT_TRUE(test::all_equal(net.forward(x), y_sync));
}

} // namespace
} // namespace pg
