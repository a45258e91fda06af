// PinnedStaging: a ring of pinned host buffers through which a data loader moves batches to the
// GPU without waiting for the copies. upload() copies a CPU batch into the next slot and queues an
// asynchronous copy from the slot to the device; a slot is rewritten only after the copy that last
// read it has finished (its event). Plain C++ over the Backend interface: no CUDA types here.
#pragma once

#include <memory>
#include <vector>

#include "tensor/storage.h"
#include "tensor/tensor.h"

namespace pg {

class PinnedStaging {
  public:
    // `slots` buffers staged for copies to `device` (2 = double buffering: the host fills one while
    // the GPU reads the other). A slot is allocated on first use and regrown when a batch is larger
    // than it, so after the first batches pinned memory is never allocated again. On the CPU
    // device the slots are plain memory and upload() is a plain copy.
    explicit PinnedStaging(Device device, int slots = 2);

    // A copy of cpu_batch (any dtype and shape, contiguous CPU data) on the device, with no autograd
    // history. Returns once the device copy is queued; cpu_batch may be reused at once. Blocks only
    // when the slot's previous copy has not finished yet (the GPU is `slots` batches behind).
    Tensor upload(const Tensor& cpu_batch);

    Device device() const { return device_; }
    int slots() const { return int(slots_.size()); }
    size_t slot_bytes(int slot) const; // capacity of a slot, 0 until first used

  private:
    Device device_;
    std::vector<std::shared_ptr<Storage>> slots_; // pinned host buffers, null until used
    int next_ = 0;                                // the slot the next upload writes
};

} // namespace pg
