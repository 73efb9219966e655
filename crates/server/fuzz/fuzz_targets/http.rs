//! libFuzzer entry point; the checks live in [`server_fuzz::http`] so the regression tests run
//! the very same code.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| server_fuzz::http(data));
