// The gridsync SDK as an Android library module.
//
// In the app's settings.gradle.kts:
//     include(":gridsync")
//     project(":gridsync").projectDir = file("<path>/mobile-bindings/android")
// and in the app's build.gradle.kts:
//     implementation(project(":gridsync"))
//
// The native libraries go to src/main/jniLibs/<abi>/libgridsync_ffi.so:
// build them with ../scripts/build-android.sh (cargo-ndk) first.

// Plugin versions come from the app's root build (AGP 8.x, Kotlin 2.x).
// The generated bindings are in src/main/kotlin (cn/gridsync/sdk/gridsync_ffi.kt).
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "cn.gridsync.sdk"
    compileSdk = 35

    defaultConfig {
        minSdk = 24
        consumerProguardFiles("consumer-rules.pro")
        ndk {
            abiFilters += listOf("arm64-v8a", "armeabi-v7a", "x86_64")
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
    // The SDK's calls block: apps call them from Dispatchers.IO.
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-core:1.8.1")
}
