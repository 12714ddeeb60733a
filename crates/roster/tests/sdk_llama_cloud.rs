//! LlamaCloud's official Python client (`llama-cloud==0.1.20`) against the
//! real binary, through `tests/e2e/llama_cloud_sdk.py`.

mod sdk;

#[test]
fn llama_cloud_python_sdk_end_to_end() {
    sdk::run_sdk_script("llama_cloud_sdk.py", "llama-cloud==0.1.20");
}
