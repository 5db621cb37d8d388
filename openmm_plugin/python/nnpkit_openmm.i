// SWIG wrapper of NNPForce for Python, built against the openmm wheel's SWIG
// headers so that it interoperates with openmm's own classes (System.addForce
// takes ownership, XmlSerializer works). Imported by nnpkit.openmm, which loads
// the plugin library first.
%module(package="nnpkit.openmm") bindings

%import(module="openmm") "swig/OpenMMSwigHeaders.i"
%include "swig/typemaps.i"
%include <std_string.i>
%include <std_vector.i>

%{
#include "NNPForce.h"
#include "OpenMM.h"
#include "OpenMMAmoeba.h"
#include "OpenMMDrude.h"
#include "openmm/RPMDIntegrator.h"
#include "openmm/RPMDMonteCarloBarostat.h"
%}

namespace std {
  %template(vectori) vector<int>;
  %template(vectord) vector<double>;
}

// C++ exceptions become openmm.OpenMMException with the message intact.
%exception {
  try {
    $action
  } catch (const std::exception& e) {
    PyObject* module = PyImport_ImportModule("openmm");
    PyObject* type = module ? PyObject_GetAttrString(module, "OpenMMException") : NULL;
    PyErr_Clear();
    PyErr_SetString(type ? type : PyExc_RuntimeError, e.what());
    Py_XDECREF(type);
    Py_XDECREF(module);
    SWIG_fail;
  }
}

// Model evaluations run torch's autograd engine, which must not hold the GIL.
%exception NNPKitPlugin::NNPForce::computeCommitteeDeviation {
  std::string nnpkitError;
  Py_BEGIN_ALLOW_THREADS
  try {
    $action
  } catch (const std::exception& e) {
    nnpkitError = e.what();
    if (nnpkitError.empty()) nnpkitError = "unknown error";
  }
  Py_END_ALLOW_THREADS
  if (!nnpkitError.empty()) {
    PyObject* module = PyImport_ImportModule("openmm");
    PyObject* type = module ? PyObject_GetAttrString(module, "OpenMMException") : NULL;
    PyErr_Clear();
    PyErr_SetString(type ? type : PyExc_RuntimeError, nnpkitError.c_str());
    Py_XDECREF(type);
    Py_XDECREF(module);
    SWIG_fail;
  }
}

%pythoncode %{
import os as _os


def _atomic_number(element, position):
    """Atomic number of an element given as a number, a symbol or an openmm.app.Element."""
    number = getattr(element, "atomic_number", None)
    if number is not None:
        return int(number)
    if isinstance(element, str):
        from ase.data import atomic_numbers
        if element not in atomic_numbers or element == "X":
            raise ValueError(f"element {position}: unknown chemical element symbol '{element}'")
        return int(atomic_numbers[element])
    return int(element)


def _force_arguments(model_file, elements, particles):
    numbers = [_atomic_number(e, i) for i, e in enumerate(elements)]
    indices = [] if particles is None else [int(p) for p in particles]
    if particles is not None and len(indices) != len(numbers):
        raise ValueError(f"NNPForce: got {len(numbers)} elements for {len(indices)} particles; "
                         "give one element per particle")
    # An absolute path keeps serialized Systems usable from another directory.
    return _os.path.abspath(_os.fspath(model_file)), numbers, indices
%}

namespace NNPKitPlugin {

struct NNPCommitteeDeviation {
  double energyStd;
  std::vector<double> memberEnergies;
  std::vector<double> forcesStd;
};

%feature("shadow") NNPForce::NNPForce %{
def __init__(self, model_file, elements, particles=None):
    """An nnpkit model as an OpenMM Force.

    Args:
        model_file: path of an nnpkit model file (.pt); loaded when a Context is created.
        elements: element of each particle the force acts on: symbols ("O"),
            atomic numbers (8) or openmm.app.Element objects.
        particles: their indices in the System; None means every particle of the
            System, so ``elements`` must then name one element per particle.

    The model is evaluated in the box of the System if
    setUsesPeriodicBoundaryConditions(True) was called, in open space otherwise.
    """
    _bindings.NNPForce_swiginit(self, $action(*_force_arguments(model_file, elements, particles)))
%}

// The result of cast() refers to the same C++ object: keep its owner alive with it.
%pythonappend NNPForce::cast %{
    val._keep_alive = force
%}

class NNPForce : public OpenMM::Force {
 public:
  NNPForce(const std::string& modelFile, const std::vector<int>& atomicNumbers,
           const std::vector<int>& particles);
  const std::string& getModelFile() const;
  const std::vector<int>& getAtomicNumbers() const;
  const std::vector<int>& getParticles() const;
  int getNumParticles() const;
  bool actsOnAllParticles() const;
  void setMinDistance(double distance);
  double getMinDistance() const;
  void setUsesPeriodicBoundaryConditions(bool periodic);
  bool usesPeriodicBoundaryConditions() const;
  NNPKitPlugin::NNPCommitteeDeviation computeCommitteeDeviation(OpenMM::Context& context) const;

  %extend {
    // A Force from System.getForce() or XmlSerializer as an NNPForce.
    static NNPKitPlugin::NNPForce& cast(OpenMM::Force& force) {
      auto* nnp = dynamic_cast<NNPKitPlugin::NNPForce*>(&force);
      if (nnp == nullptr) throw OpenMM::OpenMMException("this Force is not an NNPForce");
      return *nnp;
    }
    static bool isinstance(OpenMM::Force& force) {
      return dynamic_cast<NNPKitPlugin::NNPForce*>(&force) != nullptr;
    }
  }
};

}  // namespace NNPKitPlugin
