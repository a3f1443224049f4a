"""The installed shape of the project: its import names live beside the ecosystem's packages (Hugging Face's
`kernels`, which transformers 5 imports, is not shadowed by ours, `perf_kernels`), pyproject.toml lists every
package folder, and every third-party module the code imports is a declared dependency."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CODE = {"perf": ROOT / "perf", "perf_kernels": ROOT / "kernels" / "perf_kernels"}


def test_the_package_list_names_every_folder_with_an_init():
    setuptools = PYPROJECT["tool"]["setuptools"]
    folders = {"perf_kernels"} | {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "perf").rglob("__init__.py")
        if "__pycache__" not in p.parts}
    assert set(setuptools["packages"]) == folders
    assert setuptools["package-dir"] == {"perf_kernels": "kernels/perf_kernels"}
    assert not (ROOT / "kernels" / "__init__.py").exists(), "kernels/ must not be importable as `kernels`"


# Run from the checkout's root, where the working directory is on sys.path: the case that shadowed the package.
SHADOW_CHECK = r"""
import json, sys, kernels, perf_kernels, transformers
from perf_kernels import matmul, batch_invariant
from perf.suite.hf_generation import CPU_DIMS, build_model, greedy, prompts
import torch
out = {"kernels": kernels.__file__, "perf_kernels": perf_kernels.__file__, "matmul": callable(matmul),
       "hf_names": sorted(n for n in dir(kernels) if not n.startswith("_"))[:50], "tokens": {}}
for arch in ("llama", "gpt2"):
    dims = CPU_DIMS[arch]
    model = build_model(dims, torch.float32, "cpu")
    out["tokens"][arch] = list(greedy(model, prompts(2, dims.vocab, (3, 5), seed=1), steps=2).shape)
    out["class_" + arch] = type(model).__name__
print(json.dumps(out))
"""


def test_hugging_face_kernels_and_ours_import_in_one_process_and_models_build():
    pytest.importorskip("transformers", reason="the test extra installs transformers")
    if importlib.util.find_spec("kernels") is None:
        pytest.fail("Hugging Face's `kernels` package is not installed: the test extra (transformers 5) brings it")
    done = subprocess.run([sys.executable, "-c", SHADOW_CHECK], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert not Path(out["kernels"]).resolve().is_relative_to(ROOT), out["kernels"]  # Hugging Face's, not a folder here
    assert Path(out["perf_kernels"]).resolve().is_relative_to(ROOT / "kernels" / "perf_kernels")
    assert out["matmul"] and out["class_llama"] == "LlamaForCausalLM" and out["class_gpt2"] == "GPT2LMHeadModel"
    assert [t[:2] for t in out["tokens"].values()] == [[2, 3], [2, 3]]  # two prompts, prefill + 2 steps


def test_outside_the_checkout_kernels_is_hugging_faces(tmp_path):
    if importlib.util.find_spec("kernels") is None:
        pytest.skip("Hugging Face's `kernels` is not installed here (it comes with transformers 5)")
    done = subprocess.run([sys.executable, "-c", "import kernels, perf_kernels; print(kernels.__file__); "
                           "print(perf_kernels.matmul.__module__)"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    hf, ours = done.stdout.split()
    assert "perf_kernels" not in hf and not Path(hf).resolve().is_relative_to(ROOT)
    assert ours == "perf_kernels.matmul"


def third_party_imports(code: dict[str, Path] = CODE, root: Path = ROOT) -> dict[str, set[str]]:
    """Top-level module name -> the files importing it, for every import in the packages of `code`."""
    ours = set(code) | set(sys.stdlib_module_names) | {"__future__"}
    found: dict[str, set[str]] = {}
    for folder in code.values():
        for path in folder.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in ours:
                        found.setdefault(top, set()).add(str(path.relative_to(root)))
    return found


def requirement_name(requirement: str) -> str:
    name = requirement.split(";")[0].split("[")[0]
    for sep in "<>=!~ ":
        name = name.split(sep)[0]
    return name.strip().lower().replace("_", "-")


def test_every_imported_package_is_declared():
    project = PYPROJECT["project"]
    declared = {requirement_name(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        declared |= {requirement_name(r) for r in extra}
    distributions = importlib.metadata.packages_distributions()
    missing = {}
    for module, files in sorted(third_party_imports().items()):
        names = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        if not names & declared:
            missing[module] = sorted(files)
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_the_import_check_sees_a_module_that_is_not_declared(tmp_path):
    (tmp_path / "perf").mkdir()
    (tmp_path / "perf" / "x.py").write_text("import yaml\nfrom perf import spec\nimport json\n    \n")
    assert third_party_imports({"perf": tmp_path / "perf"}, tmp_path) == {"yaml": {"perf/x.py"}}
