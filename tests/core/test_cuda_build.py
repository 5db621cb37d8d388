"""The CUDA kernels compile (there is no GPU here to run them; the per-pair and
per-triplet math they call is the CPU-tested code in csrc/core)."""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not installed")
def test_core_builds_with_cuda_kernels(tmp_path):
    nvcc = os.path.realpath(shutil.which("nvcc"))
    configure = [
        "cmake", "-S", str(REPO), "-B", str(tmp_path), "-G", "Ninja",
        "-DNNPKIT_WITH_CUDA=ON", "-DNNPKIT_BUILD_PYTHON=OFF", "-DNNPKIT_BUILD_LAMMPS=OFF", "-DNNPKIT_BUILD_OPENMM=OFF",
        f"-DCMAKE_CUDA_COMPILER={nvcc}", "-DCMAKE_CUDA_ARCHITECTURES=90", f"-DPython3_EXECUTABLE={sys.executable}",
    ]
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    subprocess.run(configure, check=True, capture_output=True, env=env)
    build = subprocess.run(["cmake", "--build", str(tmp_path), "--target", "nnpkit_core"], capture_output=True,
                           text=True, env=env)
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    assert (tmp_path / "libnnpkit_core.so").exists()
