"""The embedded model's native libraries run on any x86-64 CPU with AVX2: they hold no AMX and no
AVX-512 instruction (a CPU may advertise AMX without letting a process use it: the first token
then kills the model with SIGILL). Runtime-dispatched CPU variants (``libggml-cpu-<name>.so``,
loaded only on a CPU that has them) may use AVX-512, never AMX."""

from __future__ import annotations

import importlib.util
import platform
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from salon.config import Settings
from tests.llm.local_model import require_local_model

AMX = re.compile(r"\b(tileloadd\w*|tilestored|tilezero|tilerelease|ldtilecfg|sttilecfg|"
                 r"tdpb[su][su]d|tdpbf16ps|tdpfp16ps|tcmmi?mfp16ps)\b|%tmm\d")
AVX512 = re.compile(r"%zmm\d|%k[1-7]\b|%[xy]mm(1[6-9]|2\d|3[01])\b|\b(vpternlog[dq]|"
                    r"vpermt2\w+|vpermi2\w+|vpcompress\w|vpexpand\w|vprol[dq]|vpror[dq]|"
                    r"vrndscale\w+|vscalef\w+|vgetexp\w+|vfixupimm\w+|kmov[bwdq]|vpmov[sq]?[dwq]b?)\b")

pytestmark = pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"),
                                reason="the instruction scan reads x86-64 code")


def disassemble(path: Path) -> str:
    objdump = shutil.which("objdump")
    if objdump is None:
        pytest.fail("objdump (Debian package binutils) is needed to scan the model's libraries")
    done = subprocess.run([objdump, "-d", "--no-show-raw-insn", str(path)],
                          capture_output=True, text=True, check=True)
    return done.stdout


def forbidden_instructions(path: Path) -> list[str]:
    """The lines of ``path``'s code that a portable build must not have."""
    dispatched = path.name.startswith("libggml-cpu-")
    found = []
    for line in disassemble(path).splitlines():
        if AMX.search(line) or (not dispatched and AVX512.search(line)):
            found.append(line.strip())
    return found


def model_libraries() -> list[Path]:
    require_local_model(Settings(env="test"))
    spec = importlib.util.find_spec("llama_cpp")  # found, never imported
    assert spec is not None and spec.submodule_search_locations
    package = Path(list(spec.submodule_search_locations)[0])
    libraries = sorted(p for p in package.rglob("lib*.so*") if "ggml" in p.name
                       or "llama" in p.name)
    assert any("ggml" in p.name for p in libraries), f"no libggml library under {package}"
    return libraries


def test_the_installed_model_libraries_are_portable() -> None:
    for library in model_libraries():
        found = forbidden_instructions(library)
        assert not found, f"{library.name}: {len(found)} AMX/AVX-512 instructions, e.g. {found[:3]}"


def test_the_scan_finds_amx_and_avx512(tmp_path: Path) -> None:
    """The scan itself works: it flags a library built with AMX and AVX-512 instructions."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.fail("a C compiler is needed (it builds the embedded model too)")
    source = tmp_path / "bad.c"
    source.write_text(
        "void avx512(void) { __asm__(\"vaddps %zmm0, %zmm1, %zmm2\"); }\n"
        "void amx(void) { __asm__(\"tileloadd (%rax,%rbx,1), %tmm0\\n tilerelease\"); }\n"
        "void fine(void) { __asm__(\"vaddps %ymm0, %ymm1, %ymm2\"); }\n"
    )
    library = tmp_path / "libggml-base.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    found = forbidden_instructions(library)
    assert any("zmm" in line for line in found) and any("tileloadd" in line for line in found)
    assert not any("ymm" in line and "zmm" not in line for line in found)
    variant = library.rename(tmp_path / "libggml-cpu-skylakex.so")  # dispatched: AVX-512 allowed
    found = forbidden_instructions(variant)
    assert found and all("zmm" not in line for line in found)
