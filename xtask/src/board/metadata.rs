// SPDX-License-Identifier: MIT OR Apache-2.0
//! The boards, read from the board crates: every workspace member in
//! `examples/` describes itself in `[package.metadata.ipcbench]`, which
//! xtask reads through `cargo metadata --format-version 1 --no-deps`
//! (docs/porting.md, "Board metadata", has the fields). There is no board
//! list anywhere else: a copy of a board crate under a new package name is
//! a new `--board`.
//!
//! Every field is checked here, once, before any board is used; a bad one
//! is one error line naming the crate, its manifest and the field. The
//! values live for the rest of the program (leaked), as the static table
//! they replace did.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Map, Value};

use super::{Board, ConfigTxt, Efi, ElChoice, Exit, RawImage, STANDARD_BENCHES, UBoot, UserProgram};

/// The table every board crate has.
const TABLE: &str = "[package.metadata.ipcbench]";
/// The directory of the board crates, under the workspace root.
pub const BOARDS_DIR: &str = "examples";
/// The ISAs xtask knows (the first part of `target`).
const ARCHES: &[&str] = &["x86_64", "aarch64"];
/// What `images` may list.
const IMAGES: &[&str] = &["elf", "raw", "linux-image", "efi", "iso"];

/// The boards of the workspace `ws`, from `cargo metadata`.
pub fn load(ws: &crate::util::Workspace) -> Result<Vec<Board>> {
    let mut cmd = ws.cargo();
    cmd.args(["metadata", "--format-version", "1", "--no-deps"]);
    let json = crate::util::capture(cmd).context("cannot list the board crates")?;
    let v: Value = serde_json::from_str(&json).context("cargo metadata printed no JSON")?;
    parse(&v)
}

/// The boards in `cargo metadata` output `v`, checked, sorted by name.
pub fn parse(v: &Value) -> Result<Vec<Board>> {
    let root = v["workspace_root"].as_str().context("cargo metadata: no workspace_root")?;
    let dir = Path::new(root).join(BOARDS_DIR);
    let packages = v["packages"].as_array().context("cargo metadata: no packages")?;
    let mut boards: Vec<(Board, String)> = Vec::new();
    for p in packages {
        let manifest = Path::new(p["manifest_path"].as_str().unwrap_or_default());
        if manifest.parent().and_then(Path::parent) != Some(dir.as_path()) {
            continue;
        }
        let shown = manifest.strip_prefix(root).unwrap_or(manifest).display().to_string();
        let b = board(p, &shown)?;
        if let Some((other, other_at)) = boards.iter().find(|(o, _)| o.name == b.name) {
            bail!(
                "board crates {} ({other_at}) and {} ({shown}) are both named {}: {TABLE} name must differ",
                other.kernel_package,
                b.kernel_package,
                b.name
            );
        }
        boards.push((b, shown));
    }
    let mut boards: Vec<Board> = boards.into_iter().map(|(b, _)| b).collect();
    boards.sort_by_key(|b| b.name);
    Ok(boards)
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

fn leak_slice<T>(v: Vec<T>) -> &'static [T] {
    Box::leak(v.into_boxed_slice())
}

/// One board crate's fields, with errors that name it.
struct Crate<'a> {
    package: &'a str,
    manifest: &'a str,
}

impl Crate<'_> {
    fn err(&self, field: &str, msg: impl std::fmt::Display) -> anyhow::Error {
        anyhow!("board crate {} ({}): {TABLE} {field}: {msg}", self.package, self.manifest)
    }

    /// The table at `path` (`""`: the top one) of `v`, with only `keys`.
    fn table<'v>(&self, v: &'v Value, path: &str, keys: &[&str]) -> Result<&'v Map<String, Value>> {
        let Some(m) = v.as_object() else {
            return Err(self.err(path, format!("expected a table, found {}", kind(v))));
        };
        if let Some(k) = m.keys().find(|k| !keys.contains(&k.as_str())) {
            return Err(self.err(&join(path, k), format!("unknown field; the fields are {}", keys.join(", "))));
        }
        Ok(m)
    }

    fn str(&self, m: &Map<String, Value>, path: &str, key: &str) -> Result<Option<&'static str>> {
        match m.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(leak(s))),
            Some(other) => Err(self.err(&join(path, key), format!("expected a non-empty string, found {}", kind(other)))),
        }
    }

    fn req_str(&self, m: &Map<String, Value>, path: &str, key: &str) -> Result<&'static str> {
        self.str(m, path, key)?.ok_or_else(|| self.err(&join(path, key), "missing"))
    }

    fn strs(&self, m: &Map<String, Value>, path: &str, key: &str) -> Result<Option<&'static [&'static str]>> {
        let Some(v) = m.get(key) else { return Ok(None) };
        let bad = |v: &Value| self.err(&join(path, key), format!("expected a list of strings, found {}", kind(v)));
        let list = v.as_array().ok_or_else(|| bad(v))?;
        let mut out = Vec::with_capacity(list.len());
        for s in list {
            out.push(leak(s.as_str().filter(|s| !s.is_empty()).ok_or_else(|| bad(s))?));
        }
        Ok(Some(leak_slice(out)))
    }

    fn u64(&self, m: &Map<String, Value>, path: &str, key: &str) -> Result<Option<u64>> {
        match m.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.err(&join(path, key), format!("expected a non-negative integer, found {}", kind(v)))),
        }
    }

    fn req_u64(&self, m: &Map<String, Value>, path: &str, key: &str) -> Result<u64> {
        self.u64(m, path, key)?.ok_or_else(|| self.err(&join(path, key), "missing"))
    }

    fn bool(&self, m: &Map<String, Value>, path: &str, key: &str) -> Result<Option<bool>> {
        match m.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(self.err(&join(path, key), format!("expected true or false, found {}", kind(v)))),
        }
    }

    fn el(&self, m: &Map<String, Value>, path: &str, key: &str) -> Result<Option<u8>> {
        match self.u64(m, path, key)? {
            None => Ok(None),
            Some(el @ 1..=2) => Ok(Some(el as u8)),
            Some(el) => Err(self.err(&join(path, key), format!("{el}: the kernels run at EL1 or EL2"))),
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

fn kind(v: &Value) -> String {
    match v {
        Value::Null => "nothing".to_string(),
        Value::Bool(b) => format!("{b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "a table".to_string(),
    }
}

/// One board crate (`p`, a package of `cargo metadata`) as a [`Board`].
fn board(p: &Value, manifest: &str) -> Result<Board> {
    let package = leak(p["name"].as_str().context("cargo metadata: a package without a name")?);
    let c = Crate { package, manifest };
    let features: BTreeSet<&str> = p["features"].as_object().map(|f| f.keys().map(String::as_str).collect()).unwrap_or_default();
    let bins: Vec<&str> = p["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "bin")))
        .filter_map(|t| t["name"].as_str())
        .collect();
    if bins != [package] {
        bail!(
            "board crate {package} ({manifest}): [[bin]] name: the crate must have one binary, named as the package ({package}), the kernel ELF target/<target>/release/{package}; it has {}",
            if bins.is_empty() { "none".to_string() } else { bins.join(", ") }
        );
    }
    let Some(meta) = p["metadata"].get("ipcbench") else {
        bail!("board crate {package} ({manifest}): no {TABLE} table (every crate in {BOARDS_DIR}/ is a board; docs/porting.md, \"Board metadata\")");
    };
    let m = c.table(
        meta,
        "",
        &[
            "name", "target", "user", "images", "exit", "defmt", "features", "inject-feature", "runs-at-el", "fixed-cpus", "el",
            "hardware-doc", "qemu", "raw", "efi", "config-txt", "u-boot",
        ],
    )?;
    let name = c.str(m, "", "name")?.unwrap_or(package);
    if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_') {
        return Err(c.err("name", format!("{name:?}: use lower-case letters, digits, - and _")));
    }
    let target = c.req_str(m, "", "target")?;
    let arch = target.split('-').next().unwrap_or_default();
    if !ARCHES.contains(&arch) || !target.contains('-') {
        return Err(c.err("target", format!("{target}: not a target of {} (e.g. {arch}-unknown-none)", ARCHES.join(" or "))));
    }
    let arch = leak(arch);
    let has_feature = |path: &str, f: &str| {
        if features.contains(f) { Ok(()) } else { Err(c.err(path, format!("the crate has no feature {f} in [features]"))) }
    };

    // The user programs.
    let users = m.get("user").ok_or_else(|| c.err("user", "missing"))?;
    let users = users.as_array().ok_or_else(|| c.err("user", format!("expected a list of tables, found {}", kind(users))))?;
    let mut user_programs = Vec::new();
    for (i, u) in users.iter().enumerate() {
        let path = format!("user[{i}]");
        let t = c.table(u, &path, &["package", "bin", "env"])?;
        user_programs.push(UserProgram {
            package: c.req_str(t, &path, "package")?,
            bin: c.req_str(t, &path, "bin")?,
            env: c.req_str(t, &path, "env")?,
        });
    }

    // The image formats.
    let images = c.strs(m, "", "images")?.ok_or_else(|| c.err("images", "missing"))?;
    if images.is_empty() {
        return Err(c.err("images", format!("empty; list what the loader takes: {}", IMAGES.join(", "))));
    }
    if let Some(i) = images.iter().find(|i| !IMAGES.contains(i)) {
        return Err(c.err("images", format!("{i}: not one of {}", IMAGES.join(", "))));
    }
    let has_image = |i: &str| images.contains(&i);
    let linked = |image: &str, table: &str, present: bool| match (has_image(image), present) {
        (true, false) => Err(c.err(table, format!("missing (images lists {image})"))),
        (false, true) => Err(c.err("images", format!("does not list {image}, but there is a [{table}] table"))),
        _ => Ok(()),
    };
    linked("raw", "raw", m.contains_key("raw"))?;
    linked("efi", "efi", m.contains_key("efi"))?;
    if (has_image("linux-image") || has_image("raw") || has_image("efi")) && arch != "aarch64" {
        return Err(c.err("images", format!("raw, linux-image and efi are AArch64 images; {target} is {arch}")));
    }
    if has_image("iso") && arch != "x86_64" {
        return Err(c.err("images", "iso (GRUB2, multiboot2) is for x86_64 kernels"));
    }

    let raw_image = match m.get("raw") {
        None => None,
        Some(v) => {
            let t = c.table(v, "raw", &["file", "load-address", "pad-bss", "max-footprint", "max-footprint-why"])?;
            Some(RawImage {
                file: c.req_str(t, "raw", "file")?,
                load: c.req_u64(t, "raw", "load-address")?,
                pad_bss: c.bool(t, "raw", "pad-bss")?.unwrap_or(false),
                max_footprint: c.req_u64(t, "raw", "max-footprint")?,
                max_footprint_why: c.req_str(t, "raw", "max-footprint-why")?,
            })
        }
    };
    let efi = match m.get("efi") {
        None => None,
        Some(v) => {
            let t = c.table(v, "efi", &["loader-target", "boot-file"])?;
            Some(Efi { loader_target: c.req_str(t, "efi", "loader-target")?, boot_file: c.req_str(t, "efi", "boot-file")? })
        }
    };
    let config_txt = match m.get("config-txt") {
        None => None,
        Some(v) => {
            let t = c.table(v, "config-txt", &["device-tree-address"])?;
            let dtb = c.req_u64(t, "config-txt", "device-tree-address")?;
            let Some(raw) = raw_image else {
                return Err(c.err("config-txt", "needs a raw image (images = [\"raw\", ...] and a [raw] table)"));
            };
            if raw.load + raw.max_footprint > dtb {
                return Err(c.err(
                    "raw.max-footprint",
                    format!("{:#x} from {:#x} reaches past config-txt.device-tree-address {dtb:#x}", raw.max_footprint, raw.load),
                ));
            }
            Some(ConfigTxt { device_tree_address: dtb })
        }
    };
    let u_boot = match m.get("u-boot") {
        None => None,
        Some(v) => {
            let t = c.table(v, "u-boot", &["load-address", "fdt-address"])?;
            let load = c.req_u64(t, "u-boot", "load-address")?;
            let fdt = c.req_u64(t, "u-boot", "fdt-address")?;
            if !has_image("linux-image") {
                return Err(c.err("u-boot", "U-Boot's booti boots the linux-image: list it in images"));
            }
            if fdt <= load {
                return Err(c.err("u-boot.fdt-address", format!("{fdt:#x} is not above load-address {load:#x}")));
            }
            Some(UBoot { load_address: load, fdt_address: fdt })
        }
    };

    // The end of a run.
    let exit = match c.req_str(m, "", "exit")? {
        "isa-debug-exit" if arch == "x86_64" => Exit::IsaDebug,
        "semihosting" if arch == "aarch64" => Exit::Semihosting,
        "psci-off" if arch == "aarch64" => Exit::PsciOff,
        "park" => Exit::Park,
        other => {
            return Err(c.err(
                "exit",
                format!("{other}: on {arch} one of {}", if arch == "x86_64" { "isa-debug-exit, park" } else { "semihosting, psci-off, park" }),
            ));
        }
    };

    // Where defmt frames go: the semihosting console (implied by the
    // semihosting exit), or nowhere the host reads.
    let defmt_semihosting = match c.str(m, "", "defmt")? {
        None => matches!(exit, Exit::Semihosting),
        Some("semihosting") if arch == "aarch64" => true,
        Some("none") if !matches!(exit, Exit::Semihosting) => false,
        Some(other) => {
            return Err(c.err("defmt", format!("{other}: on {arch} {}", if arch == "aarch64" { "semihosting, or none without the semihosting exit" } else { "leave it out (x86 boards send defmt to their second UART)" })));
        }
    };

    // Features and exception levels.
    let build_features = c.strs(m, "", "features")?.unwrap_or(&[]);
    for f in build_features {
        has_feature("features", f)?;
    }
    let inject_feature = c.str(m, "", "inject-feature")?.unwrap_or("inject");
    has_feature("inject-feature", inject_feature)?;
    let expected_el = c.el(m, "", "runs-at-el")?;
    let fixed_cpus = c.u64(m, "", "fixed-cpus")?.unwrap_or(0);
    if fixed_cpus > u64::from(super::MAX_SMP) {
        return Err(c.err("fixed-cpus", format!("{fixed_cpus}: more than the {} CPUs the kernels drive", super::MAX_SMP)));
    }
    let mut el_choices = Vec::new();
    if let Some(v) = m.get("el") {
        let list = v.as_array().ok_or_else(|| c.err("el", format!("expected a list of tables, found {}", kind(v))))?;
        for (i, e) in list.iter().enumerate() {
            let path = format!("el[{i}]");
            let t = c.table(e, &path, &["el", "machine", "features", "runs-at-el"])?;
            let el = c.el(t, &path, "el")?.ok_or_else(|| c.err(&join(&path, "el"), "missing"))?;
            if arch != "aarch64" {
                return Err(c.err(&path, format!("{arch} has no exception levels to choose")));
            }
            if el_choices.iter().any(|o: &ElChoice| o.el == el) {
                return Err(c.err(&join(&path, "el"), format!("EL{el} is listed twice")));
            }
            let features = c.strs(t, &path, "features")?.unwrap_or(&[]);
            for f in features {
                has_feature(&join(&path, "features"), f)?;
            }
            el_choices.push(ElChoice {
                el,
                machine: c.strs(t, &path, "machine")?,
                features,
                runs_at: c.el(t, &path, "runs-at-el")?,
            });
        }
        if el_choices.is_empty() {
            return Err(c.err("el", "empty; leave it out where --el has no choices"));
        }
    }

    // QEMU.
    let mut b = Board {
        name,
        arch,
        target,
        kernel_package: package,
        user_programs: leak_slice(user_programs),
        qemu: "",
        qemu_packages: &[],
        machine_args: &[],
        el_choices: leak_slice(el_choices),
        cpus: &[],
        tcg_cpu: "",
        kvm_cpu: "host",
        kvm_host_arch: "none",
        grub: has_image("iso"),
        linux_image: has_image("linux-image"),
        inject_feature,
        expected_benches: STANDARD_BENCHES,
        raw_image,
        efi,
        config_txt,
        u_boot,
        exit,
        defmt_semihosting,
        hardware_doc: c.str(m, "", "hardware-doc")?,
        emulated: m.contains_key("qemu"),
        expected_el,
        build_features,
        fixed_cpus: fixed_cpus as u32,
        smp: 0,
    };
    match (m.get("qemu"), b.hardware_doc) {
        (None, None) => {
            return Err(c.err("hardware-doc", "missing: a board without [qemu] (not emulated) names the document that says how to run it"));
        }
        (Some(_), Some(_)) => return Err(c.err("hardware-doc", "only for boards QEMU does not emulate (no [qemu] table)")),
        (None, Some(_)) => {
            if let Some(e) = b.el_choices.iter().position(|e| e.machine.is_some()) {
                return Err(c.err(&format!("el[{e}].machine"), "the board has no [qemu] table"));
            }
        }
        (Some(q), None) => {
            let t = c.table(q, "qemu", &["system", "packages", "machine", "cpus", "kvm"])?;
            b.qemu = c.req_str(t, "qemu", "system")?;
            if !b.qemu.starts_with("qemu-system-") {
                return Err(c.err("qemu.system", format!("{}: expected a qemu-system-* program", b.qemu)));
            }
            b.qemu_packages = c.strs(t, "qemu", "packages")?.ok_or_else(|| c.err("qemu.packages", "missing"))?;
            b.machine_args = c.strs(t, "qemu", "machine")?.ok_or_else(|| c.err("qemu.machine", "missing"))?;
            b.cpus = c.strs(t, "qemu", "cpus")?.ok_or_else(|| c.err("qemu.cpus", "missing"))?;
            b.tcg_cpu = b.cpus.first().copied().ok_or_else(|| c.err("qemu.cpus", "empty: the first is QEMU's -cpu under TCG"))?;
            if let Some(k) = t.get("kvm") {
                let k = c.table(k, "qemu.kvm", &["host", "cpu"])?;
                b.kvm_host_arch = c.req_str(k, "qemu.kvm", "host")?;
                b.kvm_cpu = c.str(k, "qemu.kvm", "cpu")?.unwrap_or("host");
            }
            if matches!(b.exit, Exit::Park) {
                return Err(c.err("exit", "park: QEMU would never exit; emulated boards end with isa-debug-exit, semihosting or psci-off"));
            }
            if !(has_image("elf") || has_image("raw") || has_image("efi")) {
                return Err(c.err("images", "QEMU boots elf, raw or efi: list one"));
            }
        }
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cargo metadata` output for board crates with these packages' `ipcbench` tables.
    fn workspace(crates: &[(&str, Value)]) -> Value {
        let packages: Vec<Value> = crates
            .iter()
            .map(|(name, meta)| {
                serde_json::json!({
                    "name": name,
                    "manifest_path": format!("/w/examples/{name}/Cargo.toml"),
                    "targets": [{ "kind": ["bin"], "name": name }],
                    "features": { "inject": [], "el1": [] },
                    "metadata": if meta.is_null() { Value::Null } else { serde_json::json!({ "ipcbench": meta }) },
                })
            })
            .chain(std::iter::once(serde_json::json!({
                "name": "ipc-core",
                "manifest_path": "/w/ipc-core/Cargo.toml",
                "targets": [{ "kind": ["lib"], "name": "ipc_core" }],
                "features": {},
                "metadata": null,
            })))
            .collect();
        serde_json::json!({ "workspace_root": "/w", "packages": packages })
    }

    fn virt() -> Value {
        serde_json::json!({
            "target": "aarch64-unknown-none",
            "user": [{ "package": "benches", "bin": "bench-user", "env": "IPCB_USER_ELF" }],
            "images": ["elf", "linux-image"],
            "exit": "semihosting",
            "el": [{ "el": 1 }, { "el": 2, "machine": ["-M", "virt,virtualization=on"] }],
            "qemu": { "system": "qemu-system-aarch64", "packages": ["qemu-system-arm"], "machine": ["-M", "virt"], "cpus": ["max", "cortex-a53"] },
        })
    }

    fn error(crates: &[(&str, Value)]) -> String {
        crate::util::one_line(&format!("{:#}", parse(&workspace(crates)).unwrap_err()))
    }

    #[test]
    fn a_good_crate_is_a_board() {
        let boards = parse(&workspace(&[("my-virt", virt())])).unwrap();
        assert_eq!(boards.len(), 1, "ipc-core is not in examples/");
        let b = &boards[0];
        assert_eq!((b.name, b.kernel_package, b.arch, b.tcg_cpu, b.kvm_host_arch), ("my-virt", "my-virt", "aarch64", "max", "none"));
        assert_eq!(b.el_choices[1].machine, Some(&["-M", "virt,virtualization=on"][..]));
        assert!(b.emulated && b.linux_image && !b.grub && b.raw_image.is_none());
    }

    #[test]
    fn missing_or_malformed_fields_name_the_crate_and_the_field() {
        let with = |f: &dyn Fn(&mut Map<String, Value>)| {
            let mut v = virt();
            f(v.as_object_mut().unwrap());
            error(&[("bad", v)])
        };
        let at = "board crate bad (examples/bad/Cargo.toml): [package.metadata.ipcbench]";
        assert_eq!(error(&[("bad", Value::Null)]), format!("board crate bad (examples/bad/Cargo.toml): no {TABLE} table (every crate in examples/ is a board; docs/porting.md, \"Board metadata\")"));
        assert_eq!(with(&|m| drop(m.remove("target"))), format!("{at} target: missing"));
        assert_eq!(with(&|m| drop(m.insert("target".into(), 7.into()))), format!("{at} target: expected a non-empty string, found the number 7"));
        assert_eq!(
            with(&|m| drop(m.insert("target".into(), "riscv64gc-unknown-none-elf".into()))),
            format!("{at} target: riscv64gc-unknown-none-elf: not a target of x86_64 or aarch64 (e.g. riscv64gc-unknown-none)")
        );
        assert_eq!(with(&|m| drop(m.insert("exit".into(), "reboot".into()))), format!("{at} exit: reboot: on aarch64 one of semihosting, psci-off, park"));
        assert_eq!(with(&|m| drop(m.insert("defmt".into(), "uart".into()))), format!("{at} defmt: uart: on aarch64 semihosting, or none without the semihosting exit"));
        assert!(with(&|m| drop(m.insert("tagret".into(), "x".into()))).starts_with(&format!("{at} tagret: unknown field; the fields are name, target,")));
        assert_eq!(with(&|m| m["qemu"]["machine"] = "virt".into()), format!("{at} qemu.machine: expected a list of strings, found the string \"virt\""));
        assert_eq!(with(&|m| m["el"][1]["el"] = 3.into()), format!("{at} el[1].el: 3: the kernels run at EL1 or EL2"));
        assert_eq!(with(&|m| m["el"][1]["features"] = serde_json::json!(["el3"])), format!("{at} el[1].features: the crate has no feature el3 in [features]"));
        assert_eq!(with(&|m| drop(m.insert("images".into(), serde_json::json!(["elf", "raw"])))), format!("{at} raw: missing (images lists raw)"));
        assert_eq!(with(&|m| drop(m.insert("raw".into(), serde_json::json!({ "file": "k.img", "load-address": "0x80000" })))), format!("{at} images: does not list raw, but there is a [raw] table"));
        assert_eq!(with(&|m| drop(m.remove("qemu"))), format!("{at} hardware-doc: missing: a board without [qemu] (not emulated) names the document that says how to run it"));
        let mut raw = virt();
        raw["images"] = serde_json::json!(["raw"]);
        raw["raw"] = serde_json::json!({ "file": "k.img", "load-address": "0x80000", "max-footprint": 1, "max-footprint-why": "w" });
        assert_eq!(error(&[("bad", raw)]), format!("{at} raw.load-address: expected a non-negative integer, found the string \"0x80000\""));
        let mut bins = workspace(&[("bad", virt())]);
        bins["packages"][0]["targets"][0]["name"] = "qemu-virt-aarch64".into();
        assert!(crate::util::one_line(&format!("{:#}", parse(&bins).unwrap_err())).starts_with(
            "board crate bad (examples/bad/Cargo.toml): [[bin]] name: the crate must have one binary, named as the package (bad)"
        ));
    }

    #[test]
    fn two_boards_with_one_name_are_refused() {
        let mut named = virt();
        named["name"] = "my-virt".into();
        assert_eq!(
            error(&[("my-virt", virt()), ("copy", named)]),
            "board crates my-virt (examples/my-virt/Cargo.toml) and copy (examples/copy/Cargo.toml) are both named my-virt: [package.metadata.ipcbench] name must differ"
        );
    }
}
