plugins {
    alias(libs.plugins.android.application)
}

android {
    namespace = "org.tfmfn.demo"
    compileSdk = 35

    defaultConfig {
        applicationId = "org.tfmfn.demo"
        minSdk = 24
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_1_8
        targetCompatibility = JavaVersion.VERSION_1_8
    }

    androidResources {
        // The models are read whole from the assets; stored uncompressed they also map directly.
        noCompress += "tflite"
    }
}

dependencies {
    implementation(project(":facecore"))
    implementation(libs.camera.core)
    implementation(libs.camera.camera2)
    implementation(libs.camera.lifecycle)
    implementation(libs.camera.view)
    implementation(libs.litert)
    implementation(libs.lifecycle.runtime)
}
