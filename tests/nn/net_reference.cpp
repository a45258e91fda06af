// Network reference-test helpers (tests/nn/net_reference.h).
#include "tests/nn/net_reference.h"

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "autograd/ops.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"

namespace pg::test {

Tensor pattern(const Shape& shape, int seed) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; i++) {
        double s = std::sin(double(i) * 12.9898 + double(seed) * 78.233) * 43758.5453;
        v[size_t(i)] = float((s - std::floor(s)) * 2.0 - 1.0);
    }
    return Tensor::from_vector(v, shape);
}

std::map<std::string, Tensor> with_prefix(const std::map<std::string, Tensor>& ref,
                                          const std::string& prefix) {
    std::map<std::string, Tensor> out;
    for (const auto& [k, v] : ref)
        if (k.rfind(prefix, 0) == 0) out[k.substr(prefix.size())] = v;
    return out;
}

std::vector<std::string> text_lines(const Tensor& text) {
    std::vector<uint8_t> bytes = text.to_u8_vector();
    std::vector<std::string> lines;
    std::istringstream in(std::string(bytes.begin(), bytes.end()));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

std::vector<std::string> key_shapes(const nn::Module& module) {
    std::vector<nn::NamedTensor> all = module.named_parameters();
    for (const nn::NamedTensor& b : module.named_buffers()) all.push_back(b);
    std::vector<std::string> out;
    for (const nn::NamedTensor& t : all) {
        Shape s = t.tensor.shape();
        if (t.layout == nn::Layout::conv_krsc) s = {s[0], s[3], s[1], s[2]}; // (K, C, R, S)
        std::string line = t.name + ":";
        for (size_t i = 0; i < s.size(); i++) line += (i ? "," : "") + std::to_string(s[i]);
        out.push_back(line);
    }
    return out;
}

std::pair<std::string, Shape> parse_key_shape(const std::string& line) {
    const size_t colon = line.find(':');
    PG_CHECK(colon != std::string::npos, "parse_key_shape: no ':' in '", line, "'");
    Shape shape;
    const std::string dims = line.substr(colon + 1);
    for (size_t p = 0; p < dims.size();) {
        size_t q = dims.find(',', p);
        if (q == std::string::npos) q = dims.size();
        shape.push_back(std::stoll(dims.substr(p, q - p)));
        p = q + 1;
    }
    return {line.substr(0, colon), shape};
}

void expect_same_names(const nn::Module& module, const std::map<std::string, Tensor>& ref) {
    std::vector<std::string> params, buffers;
    for (const nn::NamedTensor& p : module.named_parameters()) params.push_back(p.name);
    for (const nn::NamedTensor& b : module.named_buffers()) buffers.push_back(b.name);
    EXPECT_EQ(params, text_lines(ref.at("names.params")));
    EXPECT_EQ(buffers, text_lines(ref.at("names.buffers")));
}

void expect_gradients(const nn::Module& module, const std::map<std::string, Tensor>& ref,
                      float atol, float rtol) {
    int checked = 0;
    for (const nn::NamedTensor& p : module.named_parameters()) {
        SCOPED_TRACE("gradient of " + p.name);
        auto it = ref.find("g." + p.name);
        if (it == ref.end()) {
            EXPECT_FALSE(p.tensor.grad().defined()) << "PyTorch gives no gradient here";
            continue;
        }
        ASSERT_TRUE(p.tensor.grad().defined());
        EXPECT_TRUE(
            all_close(nn::to_torch_layout(p.tensor.grad(), p.layout), it->second, atol, rtol));
        checked++;
    }
    EXPECT_GT(checked, 0);
}

void expect_buffers(const nn::Module& module, const std::map<std::string, Tensor>& ref, float atol,
                    float rtol) {
    for (const nn::NamedTensor& b : module.named_buffers()) {
        SCOPED_TRACE("buffer " + b.name);
        Tensor expected = ref.at("buf." + b.name);
        EXPECT_TRUE(all_close(cast(b.tensor, DType::f32), cast(expected, DType::f32), atol, rtol));
    }
}

void expect_sgd_step(const nn::Module& module, const std::map<std::string, Tensor>& ref, float atol,
                     float rtol) {
    const float lr = 0.01f, wd = 1e-4f;
    int checked = 0;
    for (const nn::NamedTensor& p : module.named_parameters()) {
        auto it = ref.find("after." + p.name);
        if (it == ref.end()) continue;
        SCOPED_TRACE("SGD step of " + p.name);
        ASSERT_TRUE(p.tensor.grad().defined());
        NoGradGuard no_grad;
        Tensor w = p.tensor.detach();
        Tensor updated = w - (p.tensor.grad() + w * wd) * lr;
        EXPECT_TRUE(all_close(nn::to_torch_layout(updated, p.layout), it->second, atol, rtol));
        checked++;
    }
    EXPECT_GT(checked, 0);
}

} // namespace pg::test
