//! The official Aitronos Python SDK (`aitronos-sdk==5.0.0`) against the real
//! binary, through `tests/e2e/aitronos_sdk.py`.

mod sdk;

#[test]
fn aitronos_python_sdk_end_to_end() {
    sdk::run_sdk_script("aitronos_sdk.py", "aitronos-sdk==5.0.0");
}
