// Helpers for the network reference tests (resnet, deeplab_v2, discriminator, segmenter) that
// compare with tensors dumped by tools/dump_resnet.py and tools/dump_segmenter.py: the input
// pattern both sides compute, key lists stored as text (and their "key:shape" lines), and the
// checks of one training step (gradients, buffers, SGD update).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "nn/module.h"
#include "tensor/tensor.h"

namespace pg::test {

// f32 tensor whose row-major element i is 2 frac(sin(12.9898 i + 78.233 seed) 43758.5453) - 1
// (computed in double), in [-1, 1): tools/dump_resnet.py's pattern(), so inputs need no storing.
Tensor pattern(const Shape& shape, int seed);

// The reference tensors whose names start with `prefix`, with the prefix cut off.
std::map<std::string, Tensor> with_prefix(const std::map<std::string, Tensor>& ref,
                                          const std::string& prefix);

// A u8 tensor of '\n'-separated text (the dump's "names.*" and "keys.*") -> its lines.
std::vector<std::string> text_lines(const Tensor& text);

// "name:d0,d1,..." for every parameter then every buffer, shapes in PyTorch's layout.
std::vector<std::string> key_shapes(const nn::Module& module);

// One such line -> (name, shape); "name:" is a 0-d tensor.
std::pair<std::string, Shape> parse_key_shape(const std::string& line);

// named_parameters() and named_buffers() names, in order, equal "names.params" / "names.buffers".
void expect_same_names(const nn::Module& module, const std::map<std::string, Tensor>& ref);

// Every parameter with a "g.<name>" reference has that gradient (PyTorch layout); every other
// parameter has none (frozen BN affine, a branch the forward skipped).
void expect_gradients(const nn::Module& module, const std::map<std::string, Tensor>& ref,
                      float atol, float rtol);

// Every buffer equals "buf.<name>" (running statistics after the train-mode forward).
void expect_buffers(const nn::Module& module, const std::map<std::string, Tensor>& ref, float atol,
                    float rtol);

// For each "after.<name>": one SGD step by hand, p - lr (g + wd p) (PyTorch's first step with
// momentum 0.9: the momentum buffer starts as the gradient), lr 0.01, wd 1e-4, equals it.
void expect_sgd_step(const nn::Module& module, const std::map<std::string, Tensor>& ref, float atol,
                     float rtol);

} // namespace pg::test
