// The gridsync SDK as an Android library module.
//
// In the app's settings.gradle.kts:
//     include(":gridsync")
//     project(":gridsync").projectDir = file("<path>/mobile-bindings/android")
// and in the app's build.gradle.kts:
//     implementation(project(":gridsync"))
//
// The native libraries go to src/main/jniLibs/<abi>/libgridsync_ffi.so; they
// are not checked in: build them with ../scripts/build-native.sh (cargo-ndk,
// where the Android NDK is installed) first. The build stops with that advice
// when one is missing, rather than making an AAR that crashes when opened.

// Plugin versions come from the app's root build (AGP 8.x, Kotlin 2.x).
// The generated bindings are in src/main/kotlin (cn/gridsync/sdk/gridsync_ffi.kt),
// beside the hand-written coroutine layer (GridsyncAsync.kt).
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

val abis = listOf("arm64-v8a", "armeabi-v7a", "x86_64")

android {
    namespace = "cn.gridsync.sdk"
    compileSdk = 35

    defaultConfig {
        minSdk = 24
        consumerProguardFiles("consumer-rules.pro")
        ndk {
            abiFilters += abis
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    // UniFFI's Kotlin bindings call the Rust library through JNA; the AAR
    // carries JNA's own native libraries for every Android ABI.
    implementation("net.java.dev.jna:jna:5.14.0@aar")
    // GridsyncAsync's API has suspend functions and Flows: apps get the
    // coroutines library with the module.
    api("org.jetbrains.kotlinx:kotlinx-coroutines-core:1.8.1")
}

val checkNativeLibs by tasks.registering {
    description = "Checks that src/main/jniLibs holds libgridsync_ffi.so for every ABI."
    val jniLibs = layout.projectDirectory.dir("src/main/jniLibs")
    val required = abis.toList() // a copy: no script reference in the action (configuration cache)
    doLast {
        val missing = required.filter { !jniLibs.file("$it/libgridsync_ffi.so").asFile.isFile }
        if (missing.isNotEmpty()) {
            throw GradleException(
                "libgridsync_ffi.so is missing for ${missing.joinToString()} in ${jniLibs.asFile}: " +
                    "run mobile-bindings/scripts/build-native.sh --android (needs the Android NDK and cargo-ndk)",
            )
        }
    }
}

tasks.named("preBuild") { dependsOn(checkNativeLibs) }
