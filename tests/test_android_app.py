"""The Android app module's build and sources, checked statically (no Android SDK can be installed here):
what it depends on, what it imports, and that its code, resources and tfmfn agree on names and numbers."""

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree

import pytest

from tfmfn import align, android

DEMO = "android_demo"
APP = os.path.join(DEMO, "app")
APP_JAVA = os.path.join(APP, "src", "main", "java", "org", "tfmfn", "demo")
RESOURCES = os.path.join(APP, "src", "main", "res")
FRAMEWORK_RESOURCES = "/usr/share/android-framework-res/framework-res.apk"
ALLOWED_IMPORTS = (
    "java.",
    "android.",            # the Android SDK
    "androidx.camera.",    # CameraX
    "androidx.lifecycle.Lifecycle",  # the LifecycleOwner type CameraX binds use cases to
    "com.google.common.util.concurrent.ListenableFuture",  # the future ProcessCameraProvider returns
    "org.tensorflow.lite.",  # LiteRT's Interpreter API
    "org.tfmfn.facecore.",
)


def read(*parts):
    with open(os.path.join(*parts), encoding="utf-8") as stream:
        return stream.read()


def java_sources(folder):
    return {name: read(folder, name) for name in sorted(os.listdir(folder)) if name.endswith(".java")}


def test_app_imports_only_facecore_the_android_sdk_camerax_and_litert():
    sources = java_sources(APP_JAVA)
    assert len(sources) >= 5
    imports = {line.split()[-1].rstrip(";") for source in sources.values()
               for line in source.splitlines() if line.startswith("import ")}
    assert imports and not [name for name in imports if not name.startswith(ALLOWED_IMPORTS)]
    assert any(name.startswith("org.tensorflow.lite.") for name in imports)
    assert any(name.startswith("androidx.camera.") for name in imports)


def test_app_depends_only_on_facecore_camerax_and_litert():
    build = read(APP, "build.gradle.kts")
    dependencies = re.search(r"\ndependencies \{(.*?)\n\}", build, re.S).group(1)
    declared = re.findall(r"implementation\((.+?)\)\n", dependencies + "\n")
    assert declared[0] == 'project(":facecore")'
    catalog = dict(re.findall(r'^([\w-]+) = \{ group = "([\w.]+)"', read(DEMO, "gradle", "libs.versions.toml"), re.M))
    groups = {catalog[alias.removeprefix("libs.").replace(".", "-")] for alias in declared[1:]}
    assert groups == {"androidx.camera", "com.google.ai.edge.litert"}
    assert int(re.search(r"minSdk = (\d+)", build).group(1)) >= 24


def test_facecore_is_pure_java():
    folder = os.path.join(DEMO, "facecore", "src", "main", "java", "org", "tfmfn", "facecore")
    for name, source in java_sources(folder).items():
        assert not re.search(r"^import (android|androidx)\.", source, re.M), name
    assert "VERSION_1_8" in read(DEMO, "facecore", "build.gradle.kts")
    assert 'include(":app", ":facecore")' in read(DEMO, "settings.gradle.kts")


def test_layouts_use_platform_camerax_and_own_views_only():
    for name in os.listdir(os.path.join(RESOURCES, "layout")):
        for element in ElementTree.parse(os.path.join(RESOURCES, "layout", name)).iter():
            assert "." not in element.tag or element.tag.startswith(("androidx.camera.view.", "org.tfmfn.demo.")), (
                name, element.tag)


def test_every_resource_the_code_names_exists():
    android_ns = "{http://schemas.android.com/apk/res/android}"
    defined = {"layout": {name[:-4] for name in os.listdir(os.path.join(RESOURCES, "layout"))},
               "string": {element.get("name") for element in
                          ElementTree.parse(os.path.join(RESOURCES, "values", "strings.xml")).iter("string")},
               "id": {element.get(android_ns + "id").split("/")[-1]
                      for name in os.listdir(os.path.join(RESOURCES, "layout"))
                      for element in ElementTree.parse(os.path.join(RESOURCES, "layout", name)).iter()
                      if element.get(android_ns + "id")}}
    code = "\n".join(java_sources(APP_JAVA).values()) + read(APP, "src", "main", "AndroidManifest.xml")
    used = re.findall(r"(?<!android\.)\bR\.(layout|string|id)\.(\w+)", code) + re.findall(r"@(string)/(\w+)", code)
    assert used
    missing = [f"{kind}/{name}" for kind, name in used if name not in defined[kind]]
    assert not missing


def compile_resources(folder, resources=RESOURCES):
    """Debian's aapt compiles the manifest and resources against the Android framework's; returns (result, R.java)."""
    manifest = read(APP, "src", "main", "AndroidManifest.xml")
    with_package = manifest.replace("<manifest ", '<manifest package="org.tfmfn.demo" ', 1)  # AGP adds it from namespace
    (folder / "AndroidManifest.xml").write_text(with_package)
    (folder / "gen").mkdir()
    result = subprocess.run(["aapt", "package", "-f", "-m", "-J", str(folder / "gen"), "-M", str(folder / "AndroidManifest.xml"),
                             "-S", resources, "-I", FRAMEWORK_RESOURCES, "-F", str(folder / "app.ap_")],
                            capture_output=True, text=True)
    r_java = folder / "gen" / "org" / "tfmfn" / "demo" / "R.java"
    return result, r_java.read_text() if r_java.exists() else ""


@pytest.mark.skipif(shutil.which("aapt") is None or not os.path.exists(FRAMEWORK_RESOURCES),
                    reason="needs Debian's aapt and android-framework-res (make test installs them)")
def test_resources_compile_against_the_android_framework_with_every_name_the_code_uses(tmp_path):
    result, r_java = compile_resources(tmp_path)
    assert result.returncode == 0, result.stderr
    code = "\n".join(java_sources(APP_JAVA).values())
    used = set(re.findall(r"(?<!android\.)\bR\.(layout|string|id)\.(\w+)", code))
    assert used
    for kind, name in used:
        block = re.search(rf"public static final class {kind} \{{(.*?)\}}", r_java, re.S).group(1)
        assert f" {name}=" in block, f"R.{kind}.{name}"
    broken = tmp_path / "broken"
    shutil.copytree(RESOURCES, broken / "res")
    layout = broken / "res" / "layout" / "activity_main.xml"
    layout.write_text(layout.read_text().replace("android:layout_weight", "android:layout_wieght", 1))
    failed, _ = compile_resources(broken, str(broken / "res"))
    assert failed.returncode != 0 and "layout_wieght" in failed.stderr


@pytest.mark.parametrize("constant, expected", [
    ('EMBEDDER = "{}"', android.EMBEDDER_ASSET),
    ('DETECTOR = "{}"', android.DETECTOR_ASSET),
])
def test_app_reads_the_asset_names_tfmfn_installs(constant, expected):
    assert constant.format(expected) in read(APP_JAVA, "ModelAssets.java")


def test_app_runs_blazeface_with_tfmfns_settings():
    source = read(APP_JAVA, "FacePipeline.java")
    file_name, input_size, strides, interpolated = align.DETECTORS["full"]
    assert file_name == android.DETECTOR_ASSET and not interpolated
    assert f"DETECTOR_SIZE = {input_size};" in source
    assert "DETECTOR_STRIDES = {%s};" % ", ".join(map(str, strides)) in source
    detector = align.FaceDetector("full")
    assert f"MIN_FACE_SCORE = {detector.min_score}f;" in source
    assert f"NMS_IOU = {detector.iou_threshold}f;" in source
