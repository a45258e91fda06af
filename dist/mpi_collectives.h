// MPI collectives (OpenMPI: Debian's libopenmpi-dev) for data-parallel runs on the CPU: `mpirun
// -np N pixelgrad train ...` starts N processes; each calls init_mpi_if_launched() at start-up,
// which joins MPI_COMM_WORLD and registers these as pg::collectives() (tensor/collectives.h).
// Without mpirun nothing is initialised and the program is one process, as before.
#pragma once

#include <string>

namespace pg::dist {

// True when this process was started by mpirun (its environment names a world size); then MPI is
// initialised, the collectives are registered, and MPI_Finalize runs at exit.
bool init_mpi_if_launched();
// The MPI library's name and version ("Open MPI v4.1.4"), for `pixelgrad info`.
std::string mpi_library_name();

} // namespace pg::dist
