// Registers pair_style nnp with LAMMPS' PLUGIN package (`plugin load`, or
// LAMMPS_PLUGIN_PATH, which loads every *plugin.so in the listed folders).
// lammpsplugin.h is not installed with LAMMPS; its struct is small and stable.
#include "lammps.h"
#include "pair_nnp.h"

using namespace LAMMPS_NS;

extern "C" {
typedef void* (lammpsplugin_factory1)(void*);
typedef void* (lammpsplugin_factory2)(void*, int, char**);

typedef struct {
  const char* version;
  const char* style;
  const char* name;
  const char* info;
  const char* author;
  union {
    lammpsplugin_factory1* v1;
    lammpsplugin_factory2* v2;
  } creator;
  void* handle;
} lammpsplugin_t;

typedef void (*lammpsplugin_regfunc)(lammpsplugin_t*, void*);
}

static Pair* create_pair_nnp(LAMMPS* lmp) { return new PairNNP(lmp); }

extern "C" void lammpsplugin_init(void* lmp, void* handle, void* regfunc) {
  lammpsplugin_t plugin;
  // The running LAMMPS' own version string: the plugin is built against its headers.
  plugin.version = static_cast<LAMMPS*>(lmp)->version;
  plugin.style = "pair";
  plugin.name = "nnp";
  plugin.info = "nnpkit neural-network potentials (any nnpkit model file)";
  plugin.author = "nnpkit developers";
  plugin.creator.v1 = reinterpret_cast<lammpsplugin_factory1*>(&create_pair_nnp);
  plugin.handle = handle;
  reinterpret_cast<lammpsplugin_regfunc>(regfunc)(&plugin, lmp);
}
