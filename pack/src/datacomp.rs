//! The rootfs data component, written directly with `wasm-encoder` (no compiler at pack
//! time): a component exporting `friscy:vfs/rootfs@0.1.0` (`size`, `read`, `read-words`,
//! `prefers-words`) and
//! `friscy:vfs/image@0.1.0` (`config`) over data segments.
//!
//! Core module memory layout (one linear memory, 32-bit):
//!
//! ```text
//! 0..8      return area of `read` and `read-words`: (pointer, length) of the slice
//! 8..16     return area of `config`: (pointer, length) of the config, written statically
//! 16..      the config JSON
//! 65536..   the rootfs tar (page aligned, so wasmtime can map it copy-on-write)
//! ```
//!
//! `read` and `read-words` return a pointer into the image itself, so the canonical ABI's lift copies the
//! slice straight out of the data segment: nothing is copied inside the component and no
//! allocator is needed (all parameters are scalars; lifting a result needs no realloc).

use anyhow::{Result, bail};
use wasm_encoder::{
    Alias, CanonicalFunctionSection, CanonicalOption, CodeSection, Component, ComponentExportKind,
    ComponentExportSection, ComponentInstanceSection, ComponentTypeSection, ComponentValType,
    ConstExpr, DataSection, ExportKind, ExportSection, Function, FunctionSection, InstanceSection,
    Instruction as I, MemArg, MemorySection, MemoryType, Module, ModuleSection, PrimitiveValType,
    TypeSection, ValType,
};

const CONFIG_AREA: u32 = 8;
const CONFIG_BASE: u32 = 16;
const IMAGE_BASE: u32 = 65536;
const PAGE: u64 = 65536;

pub const ROOTFS_INTERFACE: &str = "friscy:vfs/rootfs@0.1.0";
pub const IMAGE_INTERFACE: &str = "friscy:vfs/image@0.1.0";

/// The data component for `image` (a tar archive) and `config` (JSON, or empty for none).
pub fn rootfs_component(image: &[u8], config: &[u8]) -> Result<Vec<u8>> {
    // Pointers are 32-bit and the config sits below the first page.
    if config.len() as u64 > PAGE - CONFIG_BASE as u64 {
        bail!(
            "the image config is {} bytes; at most 64 KiB fit",
            config.len()
        );
    }
    let end = IMAGE_BASE as u64 + image.len() as u64;
    if end > u32::MAX as u64 {
        bail!(
            "the rootfs is {} MiB; a data component holds at most 4 GiB (use a bundle)",
            image.len() >> 20
        );
    }
    let module = core_module(image, config, end.div_ceil(PAGE));
    let mut c = Component::new();
    c.section(&ModuleSection(&module));
    let mut inst = InstanceSection::new();
    inst.instantiate(0, Vec::<(&str, wasm_encoder::ModuleArg)>::new());
    c.section(&inst);

    let mut aliases = wasm_encoder::ComponentAliasSection::new();
    aliases.alias(Alias::CoreInstanceExport {
        instance: 0,
        kind: ExportKind::Memory,
        name: "memory",
    });
    for name in ["size", "read", "config", "read-words", "prefers-words"] {
        aliases.alias(Alias::CoreInstanceExport {
            instance: 0,
            kind: ExportKind::Func,
            name,
        });
    }
    c.section(&aliases);

    let mut types = ComponentTypeSection::new();
    let u64t = ComponentValType::Primitive(PrimitiveValType::U64);
    let u32t = ComponentValType::Primitive(PrimitiveValType::U32);
    types
        .function()
        .params(Vec::<(&str, ComponentValType)>::new())
        .result(Some(u64t)); // 0: size
    types.defined_type().list(PrimitiveValType::U8); // 1: list<u8>
    let list = ComponentValType::Type(1);
    types
        .function()
        .params([("offset", u64t), ("len", u32t)])
        .result(Some(list)); // 2: read
    types
        .function()
        .params(Vec::<(&str, ComponentValType)>::new())
        .result(Some(list)); // 3: config
    types.defined_type().list(PrimitiveValType::U64); // 4: list<u64>
    types
        .function()
        .params([("offset", u64t), ("len", u32t)])
        .result(Some(ComponentValType::Type(4))); // 5: read-words
    types
        .function()
        .params(Vec::<(&str, ComponentValType)>::new())
        .result(Some(ComponentValType::Primitive(PrimitiveValType::Bool))); // 6: prefers-words
    c.section(&types);

    let mut canon = CanonicalFunctionSection::new();
    canon.lift(0, 0, []);
    canon.lift(1, 2, [CanonicalOption::Memory(0)]);
    canon.lift(2, 3, [CanonicalOption::Memory(0)]);
    canon.lift(3, 5, [CanonicalOption::Memory(0)]);
    canon.lift(4, 6, []);
    c.section(&canon);

    let mut instances = ComponentInstanceSection::new();
    instances.export_items([
        ("size", ComponentExportKind::Func, 0),
        ("read", ComponentExportKind::Func, 1),
        ("read-words", ComponentExportKind::Func, 3),
        ("prefers-words", ComponentExportKind::Func, 4),
    ]);
    instances.export_items([("config", ComponentExportKind::Func, 2)]);
    c.section(&instances);

    let mut exports = ComponentExportSection::new();
    exports.export(ROOTFS_INTERFACE, ComponentExportKind::Instance, 0, None);
    exports.export(IMAGE_INTERFACE, ComponentExportKind::Instance, 1, None);
    c.section(&exports);
    let bytes = c.finish();
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::default())
        .validate_all(&bytes)
        .map_err(|e| anyhow::anyhow!("internal error: the data component is invalid: {e}"))?;
    Ok(bytes)
}

fn core_module(image: &[u8], config: &[u8], pages: u64) -> Module {
    let mut m = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([], [ValType::I64]); // size
    types
        .ty()
        .function([ValType::I64, ValType::I32], [ValType::I32]); // read
    types.ty().function([], [ValType::I32]); // config
    m.section(&types);
    let mut funcs = FunctionSection::new();
    funcs
        .function(0)
        .function(1)
        .function(2)
        .function(1)
        .function(2);
    m.section(&funcs);
    let mut mem = MemorySection::new();
    mem.memory(MemoryType {
        minimum: pages,
        maximum: Some(pages),
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    m.section(&mem);
    let mut exports = ExportSection::new();
    exports.export("memory", ExportKind::Memory, 0);
    exports.export("size", ExportKind::Func, 0);
    exports.export("read", ExportKind::Func, 1);
    exports.export("config", ExportKind::Func, 2);
    exports.export("read-words", ExportKind::Func, 3);
    exports.export("prefers-words", ExportKind::Func, 4);
    m.section(&exports);

    let len = image.len() as i64;
    let mut code = CodeSection::new();
    let mut size = Function::new([]);
    size.instructions().i64_const(len).end();
    code.function(&size);

    // read(offset, len): start = min(offset, LEN); end = min(start + len, LEN). Both fit
    // in i64 without overflow (start <= 4 GiB, len < 4 GiB).
    let mut read = Function::new([(2, ValType::I64)]); // locals 2 = start, 3 = end
    let arg = |i: u32| I::LocalGet(i);
    let w32 = MemArg {
        offset: 0,
        align: 2,
        memory_index: 0,
    };
    for ins in [
        arg(0),
        I::I64Const(len),
        arg(0),
        I::I64Const(len),
        I::I64LtU,
        I::Select,
        I::LocalSet(2),
        I::LocalGet(2),
        arg(1),
        I::I64ExtendI32U,
        I::I64Add,
        I::LocalTee(3),
        I::I64Const(len),
        I::LocalGet(3),
        I::I64Const(len),
        I::I64LtU,
        I::Select,
        I::LocalSet(3),
        // area[0] = IMAGE_BASE + start
        I::I32Const(0),
        I::LocalGet(2),
        I::I32WrapI64,
        I::I32Const(IMAGE_BASE as i32),
        I::I32Add,
        I::I32Store(w32),
        // area[1] = end - start
        I::I32Const(4),
        I::LocalGet(3),
        I::LocalGet(2),
        I::I64Sub,
        I::I32WrapI64,
        I::I32Store(w32),
        I::I32Const(0),
        I::End,
    ] {
        read.instruction(&ins);
    }
    code.function(&read);

    let mut cfg = Function::new([]);
    cfg.instructions().i32_const(CONFIG_AREA as i32).end();
    code.function(&cfg);

    // read-words(offset, len): the same over words. LEN8 is the image's length rounded
    // up to 8: the bytes past the image up to it are zero (memory beyond the data
    // segment, inside the last page since IMAGE_BASE and the page size are multiples of
    // 8). An unaligned offset starts at LEN8 (an empty list); the count is in words.
    let len8 = (len + 7) & !7;
    let mut words = Function::new([(2, ValType::I64)]); // locals 2 = start, 3 = end
    for ins in [
        // start = offset & 7 == 0 ? min(offset, LEN8) : LEN8
        arg(0),
        I::I64Const(len8),
        arg(0),
        I::I64Const(len8),
        I::I64LtU,
        I::Select,
        I::I64Const(len8),
        arg(0),
        I::I64Const(7),
        I::I64And,
        I::I64Eqz,
        I::Select,
        I::LocalSet(2),
        // end = min(start + (len & !7), LEN8)
        I::LocalGet(2),
        arg(1),
        I::I32Const(!7),
        I::I32And,
        I::I64ExtendI32U,
        I::I64Add,
        I::LocalTee(3),
        I::I64Const(len8),
        I::LocalGet(3),
        I::I64Const(len8),
        I::I64LtU,
        I::Select,
        I::LocalSet(3),
        // area[0] = IMAGE_BASE + start; area[1] = (end - start) / 8
        I::I32Const(0),
        I::LocalGet(2),
        I::I32WrapI64,
        I::I32Const(IMAGE_BASE as i32),
        I::I32Add,
        I::I32Store(w32),
        I::I32Const(4),
        I::LocalGet(3),
        I::LocalGet(2),
        I::I64Sub,
        I::I64Const(3),
        I::I64ShrU,
        I::I32WrapI64,
        I::I32Store(w32),
        I::I32Const(0),
        I::End,
    ] {
        words.instruction(&ins);
    }
    code.function(&words);

    // prefers-words: true (this component sits behind wasmtime's adapters).
    let mut prefers = Function::new([]);
    prefers.instructions().i32_const(1).end();
    code.function(&prefers);
    m.section(&code);

    let mut data = DataSection::new();
    let mut area = Vec::with_capacity(8);
    area.extend_from_slice(&CONFIG_BASE.to_le_bytes());
    area.extend_from_slice(&(config.len() as u32).to_le_bytes());
    data.active(0, &ConstExpr::i32_const(CONFIG_AREA as i32), area);
    data.active(
        0,
        &ConstExpr::i32_const(CONFIG_BASE as i32),
        config.iter().copied(),
    );
    data.active(
        0,
        &ConstExpr::i32_const(IMAGE_BASE as i32),
        image.iter().copied(),
    );
    m.section(&data);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_component_validates_and_exports_both_interfaces() {
        let bytes = rootfs_component(b"tar bytes", br#"{"cmd":["/bin/sh"]}"#).unwrap();
        let mut names = Vec::new();
        for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
            if let wasmparser::Payload::ComponentExportSection(s) = payload.unwrap() {
                for e in s {
                    names.push(e.unwrap().name.name.to_string());
                }
            }
        }
        assert_eq!(names, [ROOTFS_INTERFACE, IMAGE_INTERFACE]);
    }

    #[test]
    fn an_oversized_config_is_refused() {
        let err = rootfs_component(b"", &vec![b' '; 70_000]).unwrap_err();
        assert!(err.to_string().contains("64 KiB"), "{err}");
    }
}
