//! Gives the shared library the SONAME `libgwen.so`, the name it is shipped under, so programs
//! linked against the copy record `libgwen.so` and not cargo's file name `libgwen_ffi.so`.

fn main() {
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libgwen.so");
    }
}
