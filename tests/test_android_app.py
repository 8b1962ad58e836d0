"""The Android app module's build and sources, checked statically (no Android SDK can be installed here):
what it depends on, what it imports, and that its code, resources and tfmfn agree on names and numbers."""

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree

import pytest

from tfmfn import align, android
from tfmfn.face import blazeface

DEMO = "android_demo"
APP = os.path.join(DEMO, "app")
APP_JAVA = os.path.join(APP, "src", "main", "java", "org", "tfmfn", "demo")
RESOURCES = os.path.join(APP, "src", "main", "res")
FRAMEWORK_RESOURCES = "/usr/share/android-framework-res/framework-res.apk"
STUBS = os.path.join("tests", "android_stubs")
FACECORE_JAVA = os.path.join(DEMO, "facecore", "src", "main", "java")
ANDROID_NS = "{http://schemas.android.com/apk/res/android}"
API_31_ATTRIBUTES = ("dataExtractionRules",)
"""Manifest attributes newer than Debian's framework-res (Android 10, API 29), which aapt cannot resolve."""
needs_aapt = pytest.mark.skipif(shutil.which("aapt") is None or not os.path.exists(FRAMEWORK_RESOURCES),
                                reason="needs Debian's aapt and android-framework-res (make test installs them)")
needs_javac_and_aapt = pytest.mark.skipif(
    shutil.which("javac") is None or shutil.which("aapt") is None or not os.path.exists(FRAMEWORK_RESOURCES),
    reason="needs a JDK, Debian's aapt and android-framework-res (make test installs them)")
ALLOWED_IMPORTS = (
    "java.",
    "android.",            # the Android SDK
    "androidx.camera.",    # CameraX
    "androidx.lifecycle.Lifecycle",  # LifecycleOwner, which CameraX binds use cases to, and LifecycleRegistry
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


def test_app_depends_only_on_facecore_camerax_litert_and_the_lifecycle_runtime():
    build = read(APP, "build.gradle.kts")
    dependencies = re.search(r"\ndependencies \{(.*?)\n\}", build, re.S).group(1)
    declared = re.findall(r"implementation\((.+?)\)\n", dependencies + "\n")
    assert declared[0] == 'project(":facecore")'
    catalog = dict(re.findall(r'^([\w-]+) = \{ group = "([\w.]+)"', read(DEMO, "gradle", "libs.versions.toml"), re.M))
    groups = {catalog[alias.removeprefix("libs.").replace(".", "-")] for alias in declared[1:]}
    # LifecycleRegistry is declared, not left to come in through CameraX's own dependencies
    assert groups == {"androidx.camera", "com.google.ai.edge.litert", "androidx.lifecycle"}
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
    """Debian's aapt compiles the manifest and resources against the Android framework's; returns (result, R.java).
    The manifest's API 31+ attributes are left out (checked apart, in test_gallery_stays_on_the_device)."""
    manifest = read(APP, "src", "main", "AndroidManifest.xml")
    for attribute in API_31_ATTRIBUTES:
        manifest = re.sub(rf'\s+android:{attribute}="[^"]*"', "", manifest)
    with_package = manifest.replace("<manifest ", '<manifest package="org.tfmfn.demo" ', 1)  # AGP adds it from namespace
    (folder / "AndroidManifest.xml").write_text(with_package)
    (folder / "gen").mkdir()
    result = subprocess.run(["aapt", "package", "-f", "-m", "-J", str(folder / "gen"), "-M", str(folder / "AndroidManifest.xml"),
                             "-S", resources, "-I", FRAMEWORK_RESOURCES, "-F", str(folder / "app.ap_")],
                            capture_output=True, text=True)
    r_java = folder / "gen" / "org" / "tfmfn" / "demo" / "R.java"
    return result, r_java.read_text() if r_java.exists() else ""


@needs_aapt
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


def compile_app(folder, app_java=APP_JAVA):
    """javac (Java 8, as the app's compileOptions) over the app's Java, facecore, the aapt-made R.java and the
    API stubs of tests/android_stubs; returns javac's result."""
    resources, _ = compile_resources(folder)
    assert resources.returncode == 0, resources.stderr
    sources = [os.path.join(root, name) for top in (STUBS, FACECORE_JAVA, app_java, str(folder / "gen"))
               for root, _, names in os.walk(top) for name in names if name.endswith(".java")]
    return subprocess.run(["javac", "--release", "8", "-Xlint:-options", "-d", str(folder / "classes"), *sources],
                          capture_output=True, text=True)


@needs_javac_and_aapt
def test_app_compiles_against_the_android_camerax_and_litert_signatures(tmp_path):
    result = compile_app(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    compiled = {name for _, _, names in os.walk(tmp_path / "classes" / "org" / "tfmfn" / "demo") for name in names}
    assert {f"{name[:-5]}.class" for name in java_sources(APP_JAVA)} <= compiled


@needs_javac_and_aapt
@pytest.mark.parametrize("file_name, before, after, error", [
    ("FacePipeline.java", ".setUseXNNPACK(true)", ".setUseXnnpack(true)", "cannot find symbol"),  # LiteRT
    ("MainActivity.java", "int rotation = image.getImageInfo()", "String rotation = image.getImageInfo()",
     "incompatible types"),  # CameraX
    ("SystemBars.java", "insets.getSystemWindowInsetBottom()", "insets.getSystemWindowInsetsBottom()",
     "cannot find symbol"),  # Android
])
def test_app_compile_fails_on_a_method_or_type_the_apis_do_not_have(tmp_path, file_name, before, after, error):
    changed = tmp_path / "java"
    shutil.copytree(APP_JAVA, changed)
    source = (changed / file_name).read_text()
    assert before in source
    (changed / file_name).write_text(source.replace(before, after, 1))
    result = compile_app(tmp_path, str(changed))
    assert result.returncode != 0 and error in result.stderr and file_name in result.stderr


def test_every_stub_names_the_release_it_mirrors():
    stubs = [os.path.join(root, name) for root, _, names in os.walk(STUBS) for name in names]
    assert len(stubs) > 40 and all(name.endswith(".java") for name in stubs)
    versions = {"android/": "Android API 35", "androidx/camera/": "CameraX 1.4.2", "androidx/lifecycle/": "2.8.7",
                "org/tensorflow/lite/": "LiteRT 1.4.1", "com/google/common/": "listenablefuture"}
    catalog = read(DEMO, "gradle", "libs.versions.toml")
    for path in stubs:
        relative = os.path.relpath(path, STUBS)
        expected = [version for prefix, version in versions.items() if relative.startswith(prefix)]
        assert expected and expected[0] in read(path).splitlines()[0], relative
    assert 'camerax = "1.4.2"' in catalog and 'litert = "1.4.1"' in catalog and 'lifecycle = "2.8.7"' in catalog
    assert "compileSdk = 35" in read(APP, "build.gradle.kts")


def layout_roots():
    """{layout name: its root element} of the app's layouts."""
    folder = os.path.join(RESOURCES, "layout")
    return {name[:-4]: ElementTree.parse(os.path.join(folder, name)).getroot() for name in os.listdir(folder)}


def test_every_screen_keeps_its_content_clear_of_the_system_bars():
    # targetSdk 35: Android 15 draws edge to edge, so each screen pads its root by the system bars' insets
    assert "targetSdk = 35" in read(APP, "build.gradle.kts")
    roots = layout_roots()
    screens = 0
    for name, source in java_sources(APP_JAVA).items():
        for layout in re.findall(r"^ +setContentView\(R\.layout\.(\w+)\);", source, re.M):
            screens += 1
            root_id = roots[layout].get(ANDROID_NS + "id")
            assert root_id == "@+id/root", (layout, root_id)
            assert "SystemBars.keepClear(findViewById(R.id.root));" in source, name
    assert screens == 2
    bars = read(APP_JAVA, "SystemBars.java")
    assert "WindowInsets.Type.systemBars() | WindowInsets.Type.displayCutout()" in bars
    assert "bottom + bars.bottom" in bars and "setOnApplyWindowInsetsListener" in bars


def test_the_gallery_stays_on_the_device():
    manifest = ElementTree.parse(os.path.join(APP, "src", "main", "AndroidManifest.xml")).getroot()
    application = manifest.find("application")
    assert application.get(ANDROID_NS + "allowBackup") == "false"  # cloud backup, up to Android 11
    rules_name = application.get(ANDROID_NS + "dataExtractionRules")  # Android 12+: backup and device transfer
    assert rules_name == "@xml/data_extraction_rules"
    rules = ElementTree.parse(os.path.join(RESOURCES, "xml", "data_extraction_rules.xml")).getroot()
    assert rules.tag == "data-extraction-rules"
    for section in ("cloud-backup", "device-transfer"):
        excluded = {element.get("domain") for element in rules.find(section).iter("exclude")}
        assert excluded == {"root", "file", "database", "sharedpref", "external"}, section
        assert not list(rules.find(section).iter("include"))
    assert "getFilesDir()" in read(APP_JAVA, "MainActivity.java")  # the gallery lives in the "file" domain


@pytest.mark.parametrize("constant, expected", [
    ('EMBEDDER = "{}"', android.EMBEDDER_ASSET),
    ('DETECTOR = "{}"', android.DETECTOR_ASSET),
])
def test_app_reads_the_asset_names_tfmfn_installs(constant, expected):
    assert constant.format(expected) in read(APP_JAVA, "ModelAssets.java")


def test_app_runs_blazeface_with_tfmfns_settings():
    source = read(APP_JAVA, "FacePipeline.java")
    file_name, input_size, strides, interpolated = blazeface.DETECTORS["full"]
    assert file_name == android.DETECTOR_ASSET and not interpolated
    assert f"DETECTOR_SIZE = {input_size};" in source
    assert "DETECTOR_STRIDES = {%s};" % ", ".join(map(str, strides)) in source
    detector = align.FaceDetector("full")
    assert f"MIN_FACE_SCORE = {detector.min_score}f;" in source
    assert f"NMS_IOU = {detector.iou_threshold}f;" in source
