"""build_addon.py: the legacy zip and the 4.2+ extension zip hold the same
files; the extension's manifest has the fields Blender requires; the
package imports itself relatively (an extension is bl_ext.<repo>.vanelia_blender)."""

import ast
import importlib.util
import os
import tomllib
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE_DIR = os.path.join(ROOT, "addon", "vanelia_blender")


@pytest.fixture(scope="module")
def build_addon():
    spec = importlib.util.spec_from_file_location(
        "build_addon", os.path.join(ROOT, "build_addon.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _names(zip_path):
    with zipfile.ZipFile(zip_path) as z:
        return sorted(z.namelist())


def test_both_zips_hold_the_same_files(build_addon, tmp_path):
    fake = tmp_path / "_vanelia.cpython-311-x86_64-linux-gnu.so"
    fake.write_bytes(b"\x7fELF")
    legacy, extension = build_addon.build(str(tmp_path / "dist"), str(fake), "both")
    version = build_addon.read_version()
    assert os.path.basename(legacy) == f"vanelia_blender-{version}.zip"
    assert os.path.basename(extension) == f"vanelia_blender-{version}-extension.zip"
    in_legacy = _names(legacy)
    assert all(name.startswith("vanelia_blender/") for name in in_legacy)
    stripped = sorted(name[len("vanelia_blender/") :] for name in in_legacy)
    in_extension = _names(extension)
    assert in_extension == sorted(stripped + ["blender_manifest.toml"])
    assert "__init__.py" in in_extension and fake.name in in_extension
    assert not any("__pycache__" in name for name in in_extension)


def test_manifest_fields(build_addon, tmp_path):
    fake = tmp_path / "_vanelia.cpython-311-x86_64-linux-gnu.so"
    fake.write_bytes(b"")
    (extension,) = build_addon.build(str(tmp_path), str(fake), "extension")
    with zipfile.ZipFile(extension) as z:
        manifest = tomllib.loads(z.read("blender_manifest.toml").decode())
    assert manifest["schema_version"] == "1.0.0"
    assert manifest["id"] == "vanelia_blender"
    assert manifest["version"] == build_addon.read_version()
    assert manifest["type"] == "add-on"
    assert manifest["blender_version_min"] == "4.2.0"
    assert manifest["license"] == ["SPDX:GPL-3.0-or-later"]
    assert manifest["platforms"] == ["linux-x64"]
    reason = manifest["permissions"]["files"]
    assert 0 < len(reason) <= 64 and not reason.endswith(".")
    assert len(manifest["tagline"]) <= 64 and not manifest["tagline"].endswith(".")


def test_pure_python_extension_has_no_platforms(build_addon, tmp_path):
    (extension,) = build_addon.build(str(tmp_path), None, "extension")
    with zipfile.ZipFile(extension) as z:
        manifest = tomllib.loads(z.read("blender_manifest.toml").decode())
    assert "platforms" not in manifest


def test_unknown_platform_and_format_are_refused(build_addon, tmp_path):
    with pytest.raises(SystemExit, match="no extension platform known"):
        build_addon.build(str(tmp_path), "/x/_vanelia.cpython-311-sparc-sunos.so", "extension")
    with pytest.raises(SystemExit, match="--format 'wheel'"):
        build_addon.build(str(tmp_path), None, "wheel")


def _script_entry_point(tree):
    """batch.py and export_camera.py run as `blender --python FILE`: they put
    their parent folder on sys.path and import the package absolutely."""
    return any(
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and getattr(node.test.left, "id", "") == "__name__"
        for node in tree.body
    )


def test_package_imports_itself_relatively():
    offenders = []
    for folder, _, files in os.walk(PACKAGE_DIR):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            tree = ast.parse(open(path, encoding="utf-8").read(), path)
            if _script_entry_point(tree):
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.level == 0:
                    top = (node.module or "").split(".")[0]
                elif isinstance(node, ast.Import):
                    top = node.names[0].name.split(".")[0]
                else:
                    continue
                if top == "vanelia_blender":
                    offenders.append(f"{os.path.relpath(path, ROOT)}:{node.lineno}")
    assert offenders == []
