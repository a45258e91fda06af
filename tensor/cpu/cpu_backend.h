// The CPU backend instance. Always available; tensor/backend.cpp installs it for DeviceType::cpu.
#pragma once

#include "tensor/backend.h"

namespace pg::cpu {

Backend& backend();

} // namespace pg::cpu
