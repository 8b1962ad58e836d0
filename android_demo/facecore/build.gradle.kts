// The app's logic in pure Java 8, tested on the JVM; `make facecore-test` runs the same tests without Gradle.
plugins {
    `java-library`
}

java {
    sourceCompatibility = JavaVersion.VERSION_1_8
    targetCompatibility = JavaVersion.VERSION_1_8
}

dependencies {
    testImplementation(libs.junit)
}

tasks.test {
    systemProperty("goldens", file("src/test/resources/goldens").absolutePath)
}
