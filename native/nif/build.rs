// The library is loaded once per VM and never unloaded (rustler has no upgrade/unload
// callbacks): `-z nodelete` keeps it mapped even if the Erlang module is purged, so threads of
// the background runtime never run unmapped code.
fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
}
