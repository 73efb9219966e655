//! libFuzzer entry point; the checks live in [`asl_fuzz::path_ref`] so the regression tests run the
//! very same code.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| asl_fuzz::path_ref(data));
