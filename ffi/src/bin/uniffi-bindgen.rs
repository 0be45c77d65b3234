//! `uniffi-bindgen`: generates the Kotlin and Swift bindings from the built
//! library (library mode). Run through mobile-bindings/scripts/generate.sh.
//! Built for the development machine only (see ffi/Cargo.toml).

fn main() {
    #[cfg(not(any(target_os = "android", target_os = "ios")))]
    uniffi::uniffi_bindgen_main()
}
