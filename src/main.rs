#[tokio::main]
async fn main() {
    verity::install_crypto_provider();
    let code = verity::cli::run().await;
    std::process::exit(code);
}
