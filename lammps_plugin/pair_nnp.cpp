#include "pair_nnp.h"

#include <mpi.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "atom.h"
#include "comm.h"
#include "compute.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "modify.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "update.h"

#include "core/committee_deviation.h"
#include "core/elements.h"
#include "core/errors.h"
#include "core/model.h"
#include "core/periodic_images.h"
#include "ghost_edges.h"
#include "model_deviation.h"

using namespace LAMMPS_NS;
using nnpkit_lammps::ModelEdges;
using nnpkit::EvaluationOutput;

namespace {

constexpr const char* kDeviationProperty = "nnp_force_dev";  // dump as d_nnp_force_dev
constexpr const char* kExtrapolationProperty = "nnp_extrapolation";  // dump as i_nnp_extrapolation
// compute pair nnp: 6 committee-deviation columns, then the extrapolation warnings
// of the latest evaluation and the count that maxew is compared with.
constexpr int kDeviationValues = 6;
constexpr int kExtrapolationValues = 2;

// ASE names of the length and energy units of a LAMMPS unit style.
struct EngineUnits {
  const char* style;
  const char* length;
  const char* energy;
};
constexpr EngineUnits kEngineUnits[] = {
    {"metal", "Ang", "eV"},  {"real", "Ang", "kcal/mol"}, {"electron", "Bohr", "Hartree"}, {"si", "m", "J"},
    {"cgs", "cm", "erg"},    {"micro", "um", "fJ"},       {"nano", "nm", "zJ"},
};

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : " ") + s;
  return out;
}

void write_string(FILE* fp, const std::string& s) {
  const int n = static_cast<int>(s.size());
  fwrite(&n, sizeof(int), 1, fp);
  fwrite(s.data(), 1, n, fp);
}

std::string read_string(FILE* fp, LAMMPS* lmp, Error* error) {
  int n = 0;
  std::string s;
  if (lmp->comm->me == 0) {
    utils::sfread(FLERR, &n, sizeof(int), 1, fp, nullptr, error);
    s.resize(n);
    if (n > 0) utils::sfread(FLERR, &s[0], 1, n, fp, nullptr, error);
  }
  MPI_Bcast(&n, 1, MPI_INT, 0, lmp->world);
  s.resize(n);
  if (n > 0) MPI_Bcast(&s[0], n, MPI_CHAR, 0, lmp->world);
  return s;
}

// yes/no keyword values (also on/off, true/false, as LAMMPS' own booleans).
bool parse_yes_no(const std::string& key, const std::string& value, Error* error) {
  if (value == "yes" || value == "on" || value == "true") return true;
  if (value == "no" || value == "off" || value == "false") return false;
  error->all(FLERR, "pair_style nnp: {} must be yes or no, got '{}'", key, value);
  return false;
}

int64_t parse_non_negative(const std::string& key, const std::string& value, Error* error) {
  errno = 0;
  char* end = nullptr;
  const long long n = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || errno == ERANGE || n < 0) {
    error->all(FLERR, "pair_style nnp: {} must be a non-negative integer, got '{}'", key, value);
  }
  return n;
}

}  // namespace

PairNNP::PairNNP(LAMMPS* lmp) : Pair(lmp) {
  single_enable = 0;
  restartinfo = 1;         // settings only; pair_coeff is given again after read_restart
  one_coeff = 1;
  manybody_flag = 1;
  ghostneigh = 1;          // message-passing models need neighbours of ghost atoms (init_style)
  no_virial_fdotr_compute = 1;  // the core's virial is exact, also for triclinic boxes
  centroidstressflag = CENTROID_AVAIL;
  writedata = 0;
  nextra = kDeviationValues + kExtrapolationValues;  // for compute pair and fix halt
  pvector = new double[nextra]();
}

PairNNP::~PairNNP() {
  if (copymode) return;
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
    memory->destroy(cutghost);
  }
  delete[] pvector;
  pvector = nullptr;
  // Give the user's communication cutoff back unless somebody changed it since.
  if (ghost_cutoff_set_ >= 0.0 && comm && comm->cutghostuser == ghost_cutoff_set_) {
    comm->cutghostuser = ghost_cutoff_before_;
  }
}

void PairNNP::allocate() {
  allocated = 1;
  const int n = atom->ntypes + 1;
  memory->create(setflag, n, n, "pair:setflag");
  memory->create(cutsq, n, n, "pair:cutsq");
  memory->create(cutghost, n, n, "pair:cutghost");
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) setflag[i][j] = 0;
  type_species_.assign(n, -1);
}

/* pair_style nnp MODEL [dev_every N] [dev_file FILE] [threads N]
                 [showew yes|no] [showewsum N] [maxew N] [resetew yes|no]
                 [min_distance D] [max_neighbors N] */
void PairNNP::settings(int narg, char** arg) {
  if (narg < 1) utils::missing_cmd_args(FLERR, "pair_style nnp", error);
  model_path_ = arg[0];
  // A repeated pair_style nnp command starts from the defaults.
  dev_every_ = 0;
  dev_file_path_ = "model_devi.out";
  threads_ = 0;
  ew_settings_ = nnpkit_lammps::ExtrapolationSettings();
  min_distance_ = -1.0;
  max_neighbors_ = 0;
  int iarg = 1;
  while (iarg < narg) {
    const std::string key = arg[iarg];
    if (iarg + 1 >= narg) utils::missing_cmd_args(FLERR, "pair_style nnp " + key, error);
    if (key == "dev_every") {
      dev_every_ = utils::inumeric(FLERR, arg[iarg + 1], false, lmp);
      if (dev_every_ < 0) error->all(FLERR, "pair_style nnp: dev_every must be >= 0, got {}", dev_every_);
    } else if (key == "dev_file") {
      dev_file_path_ = arg[iarg + 1];
    } else if (key == "threads") {
      threads_ = utils::inumeric(FLERR, arg[iarg + 1], false, lmp);
      if (threads_ < 1) error->all(FLERR, "pair_style nnp: threads must be >= 1, got {}", threads_);
    } else if (key == "showew") {
      ew_settings_.show_each = parse_yes_no(key, arg[iarg + 1], error);
    } else if (key == "showewsum") {
      ew_settings_.summary_every = parse_non_negative(key, arg[iarg + 1], error);
    } else if (key == "maxew") {
      ew_settings_.max_warnings = parse_non_negative(key, arg[iarg + 1], error);
    } else if (key == "resetew") {
      ew_settings_.reset_each_step = parse_yes_no(key, arg[iarg + 1], error);
    } else if (key == "min_distance") {
      min_distance_ = utils::numeric(FLERR, arg[iarg + 1], false, lmp);
      if (min_distance_ < 0.0) {
        error->all(FLERR, "pair_style nnp: min_distance must be >= 0 (a length in LAMMPS units), got {}",
                   min_distance_);
      }
    } else if (key == "max_neighbors") {
      max_neighbors_ = parse_non_negative(key, arg[iarg + 1], error);
      if (max_neighbors_ == 0) error->all(FLERR, "pair_style nnp: max_neighbors must be >= 1");
    } else {
      error->all(FLERR, "pair_style nnp: unknown keyword '{}' (known: dev_every, dev_file, threads, showew, "
                 "showewsum, maxew, resetew, min_distance, max_neighbors)", key);
    }
    iarg += 2;
  }
  load_model();
}

void PairNNP::load_model() {
  try {
    model_ = std::make_unique<nnpkit::Model>(model_path_);
  } catch (const std::exception& e) {
    error->all(FLERR, "pair_style nnp: {}", e.what());
  }
  members_ = model_->committee_size();
  comm_reverse = 3 * members_;

  message_hops_ = nnpkit_lammps::message_hops(model_->interaction_range(), model_->cutoff());
  dev_file_.reset();
  if (dev_every_ > 0 && members_ > 1) {
    if (comm->me == 0) dev_file_ = std::make_unique<nnpkit_lammps::ModelDeviationFile>(dev_file_path_);
    // Per-atom force deviation, for dump custom ... d_nnp_force_dev.
    int flag = 0, cols = 0;
    if (atom->find_custom(kDeviationProperty, flag, cols) < 0) atom->add_custom(kDeviationProperty, 1, 0);
  }
  if (dev_every_ > 0 && members_ == 1 && comm->me == 0) {
    error->warning(FLERR, "pair_style nnp: dev_every is ignored: model {} is not a committee", model_path_);
  }
  ew_counter_ = nnpkit_lammps::ExtrapolationCounter();
  const bool ew_requested = ew_settings_.active() || ew_settings_.reset_each_step;
  // Counted whenever the model can (a summary per run); the keywords add lines, summaries, a limit.
  ew_active_ = model_->provides_extrapolation();
  if (ew_requested && !model_->provides_extrapolation() && comm->me == 0) {
    error->warning(FLERR, "pair_style nnp: model {} provides no extrapolation check (no training range); "
                   "showew, showewsum, maxew and resetew are ignored", model_path_);
  }
  if (ew_active_) {
    // Per-atom warning counts, for dump custom ... i_nnp_extrapolation.
    int flag = 0, cols = 0;
    if (atom->find_custom(kExtrapolationProperty, flag, cols) < 0) atom->add_custom(kExtrapolationProperty, 0, 0);
  }
  apply_engine_units();
  if (max_neighbors_ > 0) {
    auto limits = model_->neighbor_limits();
    limits.max_neighbors_per_atom = max_neighbors_;
    model_->set_neighbor_limits(limits);
  }
  if (comm->me == 0) {
    utils::logmesg(lmp,
                   "pair_style nnp: model {} (species {}; cutoff {:.6g}, interaction range {:.6g}, min_distance "
                   "{:.6g}{} in {} units; committee of {}{})\n",
                   model_path_, joined(model_->metadata().species), model_->cutoff(), model_->interaction_range(),
                   model_->min_distance(), min_distance_ >= 0.0 ? " (set by min_distance)" : "", update->unit_style,
                   members_,
                   members_ > 1 && dev_every_ == 0
                       ? "; no committee deviation without dev_every N (compute pair nnp, d_nnp_force_dev)"
                       : "");
  }
}

void PairNNP::apply_engine_units() {
  const std::string style = update->unit_style;
  if (style == "lj") {
    error->all(FLERR,
               "pair_style nnp does not support 'units lj': an NNP has physical units (this model: {}, {}). "
               "Use units metal, real, electron, si, cgs, micro or nano",
               model_->metadata().length_unit, model_->metadata().energy_unit);
  }
  for (const auto& u : kEngineUnits) {
    if (style == u.style) {
      try {
        model_->set_engine_units(u.length, u.energy);
        model_->set_min_distance(min_distance_);  // LAMMPS units: after the units are known
      } catch (const std::exception& e) {
        error->all(FLERR, "pair_style nnp: {}", e.what());
      }
      return;
    }
  }
  error->all(FLERR, "pair_style nnp does not know LAMMPS unit style '{}'", style);
}

/* pair_coeff * * El1 El2 ... (one element or NULL per atom type) */
void PairNNP::coeff(int narg, char** arg) {
  if (!model_) error->all(FLERR, "pair_coeff for pair_style nnp before pair_style nnp MODEL");
  if (!allocated) allocate();
  const int ntypes = atom->ntypes;
  if (narg != 2 + ntypes || strcmp(arg[0], "*") != 0 || strcmp(arg[1], "*") != 0) {
    error->all(FLERR,
               "pair_coeff for pair_style nnp must be 'pair_coeff * * El1 ... El{}': one element symbol (or NULL) "
               "for each of the {} atom types",
               ntypes, ntypes);
  }
  for (int t = 1; t <= ntypes; ++t) {
    const std::string element = arg[1 + t];
    if (element == "NULL") {
      type_species_[t] = -1;
      continue;
    }
    int index = -1;
    try {
      index = model_->metadata().species_index(nnpkit::atomic_number(element));
    } catch (const std::exception&) {
      error->all(FLERR, "pair_coeff: '{}' (atom type {}) is not a chemical element symbol", element, t);
    }
    if (index < 0) {
      error->all(FLERR, "pair_coeff: element {} (atom type {}) is not in model {} (model species: {}); use NULL "
                 "for types this model does not handle", element, t, model_path_, joined(model_->metadata().species));
    }
    type_species_[t] = index;
  }
  int count = 0;
  for (int i = 1; i <= ntypes; ++i) {
    for (int j = i; j <= ntypes; ++j) {
      setflag[i][j] = (type_species_[i] >= 0 && type_species_[j] >= 0) ? 1 : 0;
      count += setflag[i][j];
    }
  }
  if (count == 0) error->all(FLERR, "pair_coeff for pair_style nnp maps no atom type to an element");
}

void PairNNP::init_style() {
  if (!model_) error->all(FLERR, "pair_style nnp has no model");
  if (force->newton_pair == 0) {
    error->all(FLERR, "pair_style nnp requires newton pair on (forces on ghost atoms are sent back to their "
               "owners); remove 'newton off' or use 'newton on'");
  }
  apply_engine_units();
  // Neighbours of ghost atoms only for message passing: a local model's owned
  // atoms see every atom they need in their own full lists.
  ghostneigh = message_hops_ > 0 ? 1 : 0;
  neighbor->add_request(this, ghostneigh ? NeighConst::REQ_FULL | NeighConst::REQ_GHOST : NeighConst::REQ_FULL);
  set_ghost_cutoff();
  check_box_size();
  check_compute_pair();
  comm_reverse = 3 * members_;

  // Threads per rank: the threads keyword, else OMP_NUM_THREADS (as LAMMPS' OPENMP
  // package), else this node's cores shared among its ranks.
  int threads = threads_;
  const char* omp_threads = std::getenv("OMP_NUM_THREADS");
  if (threads == 0 && omp_threads) threads = std::max(1, std::atoi(omp_threads));
  if (threads == 0) {
    MPI_Comm node;
    MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, comm->me, MPI_INFO_NULL, &node);
    int ranks_on_node = 1;
    MPI_Comm_size(node, &ranks_on_node);
    MPI_Comm_free(&node);
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    threads = std::max(1, cores / ranks_on_node);
  }
  nnpkit::Model::set_num_threads(threads);
}

// Ghost atoms must reach as far as the model's information travels (plus the
// skin), not just one cutoff: otherwise message-passing models would be wrong
// at subdomain boundaries.
void PairNNP::set_ghost_cutoff() {
  const double needed = model_->interaction_range() + neighbor->skin;
  if (comm->cutghostuser < needed) {
    if (ghost_cutoff_set_ < 0.0) ghost_cutoff_before_ = comm->cutghostuser;
    comm->cutghostuser = needed;
    ghost_cutoff_set_ = needed;
  }
}

// Brick communication replicates ghosts over several periods of a small box;
// tiled communication cannot, and absurdly thin boxes are refused by the core's rule.
void PairNNP::check_box_size() {
  const double* h = domain->h;  // xprd yprd zprd yz xz xy: rows a=(h0,0,0) b=(h5,h1,0) c=(h4,h3,h2)
  const std::array<double, 9> cell = {h[0], 0.0, 0.0, h[5], h[1], 0.0, h[4], h[3], h[2]};
  const std::array<bool, 3> periodic = {domain->periodicity[0] != 0, domain->periodicity[1] != 0,
                                        domain->periodicity[2] != 0};
  const std::array<double, 3> widths = nnpkit::lattice_plane_spacings(cell);
  const double reach = model_->interaction_range() + neighbor->skin;
  for (int d = 0; d < 3; ++d) {
    if (periodic[d] && comm->style == Comm::TILED && reach > widths[d]) {
      error->all(FLERR, "pair_style nnp: the model's interaction range plus skin ({:.6g}) exceeds the periodic box "
                 "width {:.6g} along {}; comm_style tiled cannot hold several periodic images of an atom: use "
                 "comm_style brick or a larger box", reach, widths[d], "xyz"[d]);
    }
  }
  try {
    nnpkit::check_images_per_direction(widths, periodic, reach, "the model's interaction range plus skin");
  } catch (const nnpkit::InputError& e) {
    error->all(FLERR, "pair_style nnp: {} (directions 0 1 2 are x y z); replicate the box", e.what());
  }
}

// compute pair nnp (and fix halt on it) would read values this style never
// computes: refuse, naming the keyword that computes them. With pair_style hybrid
// the compute may refer to another sub-style, so only a plain pair_style nnp is checked.
void PairNNP::check_compute_pair() {
  if (force->pair != this) return;
  for (Compute* c : modify->get_compute_list()) {
    if (strcmp(c->style, "pair") != 0) continue;
    if (members_ > 1 && dev_every_ == 0) {
      error->all(FLERR, "compute {} pair nnp reads the committee deviation, which pair_style nnp computes only "
                 "every N steps given by its 'dev_every N' keyword: add 'dev_every N' (e.g. the thermo interval) "
                 "to pair_style nnp", c->id);
    }
    if (members_ == 1 && !ew_active_ && comm->me == 0) {
      error->warning(FLERR, "compute {} pair nnp has nothing to report: model {} is not a committee (no "
                     "deviation) and has no training range (no extrapolation counts); its values are NaN", c->id,
                     model_path_);
    }
  }
}

// The extrapolation summary of finish() counts one run (or minimization).
void PairNNP::setup() {
  run_warnings_ = 0;
  run_evaluations_ = 0;
  run_evaluations_warned_ = 0;
}

void PairNNP::finish() {
  if (!ew_active_ || run_evaluations_ == 0 || comm->me != 0) return;
  if (run_warnings_ == 0) {
    utils::logmesg(lmp, "pair_style nnp: no extrapolation warnings in this run ({} evaluations inside the training "
                   "range of model {})\n", run_evaluations_, model_path_);
    return;
  }
  utils::logmesg(lmp, "pair_style nnp: WARNING: {} extrapolation warnings in this run: {} of {} evaluations had "
                 "atoms with descriptors outside the training range of model {}, where its predictions are "
                 "unreliable (showew yes lists the atoms, maxew N stops the run, dump i_{} per atom)\n",
                 run_warnings_, run_evaluations_warned_, run_evaluations_, model_path_, kExtrapolationProperty);
}

double PairNNP::init_one(int i, int j) {
  if (setflag[i][j] == 0) error->all(FLERR, "All pair coeffs are not set (pair_coeff * * El1 El2 ... for nnp)");
  cutghost[i][j] = cutghost[j][i] = model_->cutoff();
  return model_->cutoff();
}

bool PairNNP::deviation_due() const {
  return dev_every_ > 0 && members_ > 1 && update->ntimestep % dev_every_ == 0;
}

void PairNNP::compute(int eflag, int vflag) {
  ev_init(eflag, vflag);
  // Values this model cannot have (deviation of a single model, counts without a
  // training range) read NaN in compute pair nnp, not a plausible 0.
  const double nan = std::nan("");
  if (members_ == 1) std::fill(pvector, pvector + kDeviationValues, comm->me == 0 ? nan : 0.0);
  if (!ew_active_) std::fill(pvector + kDeviationValues, pvector + nextra, comm->me == 0 ? nan : 0.0);
  const int nlocal = atom->nlocal;
  const int nall = nlocal + atom->nghost;
  std::vector<int> species(nall);
  for (int i = 0; i < nall; ++i) species[i] = type_species_[atom->type[i]];

  nnpkit_lammps::NeighborView view;
  view.nlocal = nlocal;
  view.nall = nall;
  view.x = atom->x;
  view.model_species = species.data();
  view.n_centres = list->inum + list->gnum;
  view.ilist = list->ilist;
  view.numneigh = list->numneigh;
  view.firstneigh = list->firstneigh;
  view.neighbor_mask = NEIGHMASK;

  const ModelEdges edges = nnpkit_lammps::build_model_edges(view, model_->cutoff(), message_hops_);

  nnpkit::EvaluationRequest request;
  request.atom_energies = eflag_atom != 0;
  request.atom_virials = vflag_atom != 0 || cvflag_atom != 0;
  request.committee_statistics = deviation_due();  // dev_every N: only on deviation steps
  request.extrapolation = ew_active_;
  EvaluationOutput out;
  try {
    out = model_->evaluate(edges, request);
  } catch (const nnpkit::AtomsTooCloseError& e) {
    // The core's indices are model atoms; the user knows atom IDs.
    error->one(FLERR, "pair_style nnp: atoms {} and {} are {:.6g} apart, closer than the min_distance {:.6g} of "
               "model {} at step {} (atom IDs; the model has never seen atoms that close: add 'min_distance D' to "
               "pair_style nnp to lower it deliberately)",
               atom->tag[edges.engine_index[e.atom_i]], atom->tag[edges.engine_index[e.atom_j]], e.distance, e.limit,
               model_path_, update->ntimestep);
  } catch (const nnpkit::NonFinitePositionError& e) {
    error->one(FLERR, "pair_style nnp: the position of atom {} is not finite (NaN or infinity) at step {} (atom ID): "
               "the simulation has probably blown up", atom->tag[edges.engine_index[e.atom]], update->ntimestep);
  } catch (const std::exception& e) {
    error->one(FLERR, "pair_style nnp: {}", e.what());
  }
  tally(edges, out);
  if (request.committee_statistics) compute_deviation(edges, out);
  if (ew_active_) handle_extrapolation(edges, out);
}

// Results into LAMMPS' arrays; ghosts' forces and per-atom virials go back to
// their owners through LAMMPS' reverse communication (newton pair on).
void PairNNP::tally(const ModelEdges& edges, const EvaluationOutput& out) {
  double** f = atom->f;
  const auto n = static_cast<int64_t>(edges.engine_index.size());
  for (int64_t k = 0; k < n; ++k) {
    double* fi = f[edges.engine_index[k]];
    for (int c = 0; c < 3; ++c) fi[c] += out.forces[3 * k + c];
  }
  if (eflag_global) eng_vdwl += out.energy;
  if (eflag_atom) {
    for (int64_t k = 0; k < edges.n_local; ++k) eatom[edges.engine_index[k]] += out.atom_energies[k];
  }
  // LAMMPS order xx yy zz xy xz yz (and yx zx zy for the centroid form) of W_ab.
  constexpr int kVoigt[9] = {0, 4, 8, 1, 2, 5, 3, 6, 7};
  if (vflag_global) {
    for (int v = 0; v < 6; ++v) virial[v] += out.virial[kVoigt[v]];
  }
  if (vflag_atom) {
    for (int64_t k = 0; k < n; ++k) {
      double* va = vatom[edges.engine_index[k]];
      for (int v = 0; v < 6; ++v) va[v] += out.atom_virials[9 * k + kVoigt[v]];
    }
  }
  if (cvflag_atom) {
    for (int64_t k = 0; k < n; ++k) {
      double* va = cvatom[edges.engine_index[k]];
      for (int v = 0; v < 9; ++v) va[v] += out.atom_virials[9 * k + kVoigt[v]];
    }
  }
}

void PairNNP::compute_deviation(const ModelEdges& edges, const EvaluationOutput& out) {
  const int nlocal = atom->nlocal;
  const int nall = nlocal + atom->nghost;
  const int m3 = 3 * members_;
  const auto n = static_cast<int64_t>(edges.engine_index.size());
  // [M][N][3] per model atom -> [atom][M][3] per LAMMPS atom, then ghosts to owners.
  member_forces_.assign(static_cast<size_t>(nall) * m3, 0.0);
  for (int m = 0; m < members_ && !out.member_forces.empty(); ++m) {
    for (int64_t k = 0; k < n; ++k) {
      double* dst = &member_forces_[static_cast<size_t>(edges.engine_index[k]) * m3 + 3 * m];
      for (int c = 0; c < 3; ++c) dst[c] += out.member_forces[(m * n + k) * 3 + c];
    }
  }
  comm->reverse_comm(this);

  // Owned atoms' summed member forces, [M][n_local][3] as the core's formula takes them.
  const int64_t n_owned = edges.n_local;
  std::vector<double> owned_deviation(n_owned);
  std::vector<double> owned_forces(static_cast<size_t>(n_owned) * m3);
  for (int64_t k = 0; k < n_owned; ++k) {
    const double* src = &member_forces_[static_cast<size_t>(edges.engine_index[k]) * m3];
    for (int m = 0; m < members_; ++m) std::copy(src + 3 * m, src + 3 * m + 3, &owned_forces[(m * n_owned + k) * 3]);
  }
  nnpkit::atom_force_deviation(owned_forces.data(), members_, n_owned, owned_deviation.data());
  int flag = 0, cols = 0;
  const int index = atom->find_custom(kDeviationProperty, flag, cols);
  if (index >= 0) {
    double* per_atom = atom->dvector[index];
    for (int i = 0; i < nlocal; ++i) per_atom[i] = 0.0;
    for (int64_t k = 0; k < edges.n_local; ++k) per_atom[edges.engine_index[k]] = owned_deviation[k];
  }
  std::vector<double> member_virials = out.member_virials;
  member_virials.resize(9 * members_, 0.0);
  const nnpkit_lammps::ModelDeviation d = nnpkit_lammps::reduce_model_deviation(
      world, owned_deviation.data(), static_cast<int>(edges.n_local), member_virials, members_);
  max_force_deviation_ = d.max_force;
  // compute pair sums pvector over ranks: rank 0 holds the global values.
  const double values[6] = {d.max_virial, d.min_virial, d.avg_virial, d.max_force, d.min_force, d.avg_force};
  for (int v = 0; v < kDeviationValues; ++v) pvector[v] = comm->me == 0 ? values[v] : 0.0;
  if (dev_file_ && !dev_file_->write(update->ntimestep, d)) {
    error->one(FLERR, "pair_style nnp: cannot open dev_file {}", dev_file_->path());
  }
}

// n2p2's extrapolation warnings (see extrapolation_warnings.h): per-atom counts
// of owned atoms (ghosts never count), printed, summarised and limited globally.
void PairNNP::handle_extrapolation(const ModelEdges& edges, const EvaluationOutput& out) {
  int flag = 0, cols = 0;
  const int index = atom->find_custom(kExtrapolationProperty, flag, cols);
  int* per_atom = index >= 0 ? atom->ivector[index] : nullptr;
  if (per_atom) std::fill(per_atom, per_atom + atom->nlocal, 0);

  const auto n_owned = std::min<int64_t>(edges.n_local, static_cast<int64_t>(out.extrapolation_counts.size()));
  int64_t local_warnings = 0;
  std::vector<nnpkit_lammps::AtomWarnings> flagged;
  for (int64_t k = 0; k < n_owned; ++k) {
    const int64_t count = out.extrapolation_counts[k];
    if (count == 0) continue;
    const int i = edges.engine_index[k];
    local_warnings += count;
    if (per_atom) per_atom[i] = static_cast<int>(count);
    if (ew_settings_.show_each) flagged.push_back({static_cast<int64_t>(atom->tag[i]), edges.species[k], count});
  }
  const int64_t step_warnings = ew_counter_.add(world, local_warnings, ew_settings_);
  const bigint step = update->ntimestep;
  run_warnings_ += step_warnings;
  run_evaluations_ += 1;
  run_evaluations_warned_ += step_warnings > 0 ? 1 : 0;

  if (ew_settings_.show_each && step_warnings > 0) {
    const auto all = nnpkit_lammps::gather_on_root(world, flagged);
    if (comm->me == 0) {
      const auto& elements = model_->metadata().species;
      std::string lines;
      for (const auto& w : all) {
        lines += fmt::format("### NNP EXTRAPOLATION WARNING ### STEP: {:10d} ATOM: {:10d} ELEMENT: {:>2} "
                             "COUNT: {:5d}\n", step, w.tag, elements[w.species], w.count);
      }
      utils::logmesg(lmp, lines);
    }
  }
  if (ew_settings_.summary_every > 0 && step % ew_settings_.summary_every == 0) {
    const int64_t since_summary = ew_counter_.take_summary();
    if (comm->me == 0) {
      utils::logmesg(lmp, "### NNP EW SUMMARY ### TS: {:10d} EW {:10d} EWPERSTEP {:10.3e}\n", step, since_summary,
                     static_cast<double>(since_summary) / static_cast<double>(ew_settings_.summary_every));
    }
  }
  pvector[kDeviationValues] = comm->me == 0 ? static_cast<double>(step_warnings) : 0.0;
  pvector[kDeviationValues + 1] = comm->me == 0 ? static_cast<double>(ew_counter_.counted()) : 0.0;

  // Every rank holds the same global count, so all stop together.
  if (ew_settings_.max_warnings >= 0 && ew_counter_.counted() > ew_settings_.max_warnings) {
    error->all(FLERR, "pair_style nnp: too many extrapolation warnings: {} {} exceed maxew {} at step {} "
               "(model {} is outside its training range; see showew or dump i_{})", ew_counter_.counted(),
               ew_settings_.reset_each_step ? "in this step" : "since the start", ew_settings_.max_warnings, step,
               model_path_, kExtrapolationProperty);
  }
}

int PairNNP::pack_reverse_comm(int n, int first, double* buf) {
  const int m3 = 3 * members_;
  int m = 0;
  for (int i = first; i < first + n; ++i) {
    const double* src = &member_forces_[static_cast<size_t>(i) * m3];
    for (int c = 0; c < m3; ++c) buf[m++] = src[c];
  }
  return m;
}

void PairNNP::unpack_reverse_comm(int n, int* list, double* buf) {
  const int m3 = 3 * members_;
  int m = 0;
  for (int i = 0; i < n; ++i) {
    double* dst = &member_forces_[static_cast<size_t>(list[i]) * m3];
    for (int c = 0; c < m3; ++c) dst[c] += buf[m++];
  }
}

void* PairNNP::extract(const char* name, int& dim) {
  dim = 0;
  if (strcmp(name, "max_force_dev") == 0) return &max_force_deviation_;
  return nullptr;
}

double PairNNP::memory_usage() {
  return Pair::memory_usage() + static_cast<double>(member_forces_.capacity()) * sizeof(double);
}

// Restart files keep the settings (model path and keywords), not the type map:
// give pair_coeff again after read_restart, as for other manybody styles.
void PairNNP::write_restart(FILE* fp) { write_restart_settings(fp); }

void PairNNP::read_restart(FILE* fp) {
  read_restart_settings(fp);
  allocate();
}

void PairNNP::write_restart_settings(FILE* fp) {
  write_string(fp, model_path_);
  write_string(fp, dev_file_path_);
  const int ints[2] = {dev_every_, threads_};
  fwrite(ints, sizeof(int), 2, fp);
  const int64_t ew[4] = {ew_settings_.show_each, ew_settings_.summary_every, ew_settings_.max_warnings,
                         ew_settings_.reset_each_step};
  fwrite(ew, sizeof(int64_t), 4, fp);
  fwrite(&min_distance_, sizeof(double), 1, fp);
  fwrite(&max_neighbors_, sizeof(int64_t), 1, fp);
}

void PairNNP::read_restart_settings(FILE* fp) {
  model_path_ = read_string(fp, lmp, error);
  dev_file_path_ = read_string(fp, lmp, error);
  int ints[2] = {0, 0};
  if (comm->me == 0) utils::sfread(FLERR, ints, sizeof(int), 2, fp, nullptr, error);
  MPI_Bcast(ints, 2, MPI_INT, 0, world);
  dev_every_ = ints[0];
  threads_ = ints[1];
  int64_t ew[4] = {0, 0, -1, 0};
  if (comm->me == 0) utils::sfread(FLERR, ew, sizeof(int64_t), 4, fp, nullptr, error);
  MPI_Bcast(ew, 4, MPI_INT64_T, 0, world);
  ew_settings_.show_each = ew[0] != 0;
  ew_settings_.summary_every = ew[1];
  ew_settings_.max_warnings = ew[2];
  ew_settings_.reset_each_step = ew[3] != 0;
  double min_distance = -1.0;
  int64_t max_neighbors = 0;
  if (comm->me == 0) {
    utils::sfread(FLERR, &min_distance, sizeof(double), 1, fp, nullptr, error);
    utils::sfread(FLERR, &max_neighbors, sizeof(int64_t), 1, fp, nullptr, error);
  }
  MPI_Bcast(&min_distance, 1, MPI_DOUBLE, 0, world);
  MPI_Bcast(&max_neighbors, 1, MPI_INT64_T, 0, world);
  min_distance_ = min_distance;
  max_neighbors_ = max_neighbors;
  load_model();
}
