//! Linking translated functions into exec's component.
//!
//! The interpreter's component (build/components/exec.wasm) holds one core module with
//! the interpreter, the `friscy_aot_*` helpers (exported by name) and two placeholder
//! functions. Linking edits that module at the section level and keeps everything else
//! byte for byte, so the component's imports, exports and adapter modules are unchanged:
//! - the translated functions are appended (function and code sections), with the
//!   module's own type for them (`abi::TRANSLATED_PARAMS`, which exec's
//!   `call_translated` already uses);
//! - the function table grows and an element segment places them after its old end
//!   (a function pointer on wasm32 is a table index: `Func::slot`);
//! - a passive data segment holds the manifest, and the placeholders' bodies become
//!   "its length" and "memory.init it to the given address".
//!
//! Function indices of existing code are not disturbed: new functions come after every
//! existing one.

use anyhow::{Context, Result, bail};
use friscy_exec::aot::abi::{self, Ty};
use wasm_encoder::{Encode, Function, Instruction as W};
use wasmparser::{ExternalKind, Parser, Payload, TypeRef, ValType};

use crate::emit::Helpers;

fn read_leb(data: &[u8], pos: &mut usize) -> Result<u64> {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let Some(&b) = data.get(*pos) else {
            bail!("truncated LEB128")
        };
        *pos += 1;
        v |= ((b & 0x7f) as u64) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
        shift += 7;
        if shift > 63 {
            bail!("LEB128 too long");
        }
    }
}

fn leb(out: &mut Vec<u8>, v: u64) {
    (v as u32).encode(out);
}

/// The sections of a module or component after its 8-byte header.
fn sections(bytes: &[u8]) -> Result<Vec<(u8, &[u8])>> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        bail!("not a WebAssembly binary");
    }
    let mut pos = 8;
    let mut out = Vec::new();
    while pos < bytes.len() {
        let id = bytes[pos];
        pos += 1;
        let len = read_leb(bytes, &mut pos)? as usize;
        let end = pos.checked_add(len).filter(|&e| e <= bytes.len());
        let Some(end) = end else {
            bail!("a section runs past the end")
        };
        out.push((id, &bytes[pos..end]));
        pos = end;
    }
    Ok(out)
}

fn push_section(out: &mut Vec<u8>, id: u8, content: &[u8]) {
    out.push(id);
    leb(out, content.len() as u64);
    out.extend_from_slice(content);
}

/// A vector section's content with `extra` more items appended (`items` encoded).
fn append_items(content: &[u8], extra: u64, items: &[u8]) -> Result<Vec<u8>> {
    let mut pos = 0;
    let count = read_leb(content, &mut pos)?;
    let mut out = Vec::new();
    leb(&mut out, count + extra);
    out.extend_from_slice(&content[pos..]);
    out.extend_from_slice(items);
    Ok(out)
}

fn val(t: Ty) -> ValType {
    match t {
        Ty::I32 => ValType::I32,
        Ty::I64 => ValType::I64,
    }
}

/// What linking needs to know about exec's core module.
pub struct ModuleInfo {
    imported_funcs: u32,
    defined_funcs: u32,
    /// The type index of `abi::TRANSLATED_PARAMS -> TRANSLATED_RESULTS`.
    translated_type: u32,
    pub helpers: Helpers,
    manifest_len: u32,
    manifest_copy: u32,
    table_min: u64,
    table_max: Option<u64>,
    data_segments: u32,
    has_data_count: bool,
}

impl ModuleInfo {
    /// The function index the `i`-th appended function gets.
    pub fn func_index(&self, i: u32) -> u32 {
        self.imported_funcs + self.defined_funcs + i
    }

    /// The table slot the `i`-th appended function gets.
    pub fn slot(&self, i: u32) -> u32 {
        self.table_min as u32 + i
    }
}

/// Reads what linking needs; `None` if this is not exec's module (no helpers).
pub fn inspect(module: &[u8]) -> Result<Option<ModuleInfo>> {
    let mut imported_funcs = 0;
    let mut defined_funcs = 0;
    let mut types = Vec::new();
    let mut exports = std::collections::HashMap::new();
    let mut table = None;
    let mut data_segments = 0;
    let mut has_data_count = false;
    for payload in Parser::new(0).parse_all(module) {
        match payload? {
            Payload::TypeSection(r) => {
                for g in r {
                    for t in g?.into_types() {
                        types.push(t);
                    }
                }
            }
            Payload::ImportSection(r) => {
                for i in r.into_imports() {
                    if let TypeRef::Func(_) = i?.ty {
                        imported_funcs += 1;
                    }
                }
            }
            Payload::FunctionSection(r) => defined_funcs = r.count(),
            Payload::TableSection(r) => {
                for t in r {
                    let t = t?;
                    if table.is_none() {
                        table = Some((t.ty.initial, t.ty.maximum));
                    }
                }
            }
            Payload::ExportSection(r) => {
                for e in r {
                    let e = e?;
                    if e.kind == ExternalKind::Func {
                        exports.insert(e.name.to_string(), e.index);
                    }
                }
            }
            Payload::DataCountSection { .. } => has_data_count = true,
            Payload::DataSection(r) => data_segments = r.count(),
            _ => {}
        }
    }
    let find = |imp: &abi::Import| exports.get(imp.name).copied();
    let (Some(load), Some(store), Some(exec1), Some(lookup), Some(len), Some(copy)) = (
        find(&abi::LOAD),
        find(&abi::STORE),
        find(&abi::EXEC1),
        find(&abi::LOOKUP),
        find(&abi::MANIFEST_LEN),
        find(&abi::MANIFEST_COPY),
    ) else {
        return Ok(None);
    };
    let params: Vec<ValType> = abi::TRANSLATED_PARAMS.iter().map(|&t| val(t)).collect();
    let results: Vec<ValType> = abi::TRANSLATED_RESULTS.iter().map(|&t| val(t)).collect();
    let translated_type = types
        .iter()
        .position(|t| {
            matches!(&t.composite_type.inner, wasmparser::CompositeInnerType::Func(f)
                if f.params() == params.as_slice() && f.results() == results.as_slice())
        })
        .context("exec's module has no function type for translated code")?;
    let (table_min, table_max) = table.context("exec's module has no function table")?;
    Ok(Some(ModuleInfo {
        imported_funcs,
        defined_funcs,
        translated_type: translated_type as u32,
        helpers: Helpers {
            load,
            store,
            exec1,
            lookup,
            translated_type: translated_type as u32,
        },
        manifest_len: len,
        manifest_copy: copy,
        table_min,
        table_max,
        data_segments,
        has_data_count,
    }))
}

/// Exec's module with `funcs` (raw bodies, locals and code, as `Function::into_raw_body`;
/// their table slots `info.slot(i)`) and `manifest` linked in.
pub fn link_module(
    module: &[u8],
    info: &ModuleInfo,
    funcs: &[Vec<u8>],
    manifest: &[u8],
) -> Result<Vec<u8>> {
    let k = funcs.len() as u64;
    let data_index = info.data_segments;
    let mut out = module[..8].to_vec();
    let mut saw_data = false;
    for (id, content) in sections(module)? {
        match id {
            // Function section: the new functions' type.
            3 => {
                let mut items = Vec::new();
                for _ in 0..k {
                    leb(&mut items, info.translated_type as u64);
                }
                push_section(&mut out, 3, &append_items(content, k, &items)?);
            }
            // Table section: room for the new functions in table 0.
            4 => {
                let mut pos = 0;
                let count = read_leb(content, &mut pos)?;
                // funcref, limits flag, min[, max].
                if content.get(pos) != Some(&0x70) {
                    bail!("exec's first table is not a plain funcref table");
                }
                pos += 1;
                let flag = content[pos];
                pos += 1;
                if flag > 1 {
                    bail!("exec's first table has unexpected limits ({flag:#x})");
                }
                read_leb(content, &mut pos)?;
                if flag == 1 {
                    read_leb(content, &mut pos)?;
                }
                let mut new = Vec::new();
                leb(&mut new, count);
                new.push(0x70);
                new.push(flag);
                leb(&mut new, info.table_min + k);
                if flag == 1 {
                    leb(
                        &mut new,
                        info.table_max.unwrap_or(0).max(info.table_min + k),
                    );
                }
                new.extend_from_slice(&content[pos..]);
                push_section(&mut out, 4, &new);
            }
            // Element section: an active segment placing the new functions.
            9 => {
                let mut seg = vec![0x00];
                W::I32Const(info.table_min as i32).encode(&mut seg);
                seg.push(0x0b);
                leb(&mut seg, k);
                for i in 0..k {
                    leb(
                        &mut seg,
                        (info.imported_funcs + info.defined_funcs) as u64 + i,
                    );
                }
                push_section(&mut out, 9, &append_items(content, 1, &seg)?);
            }
            12 => {
                let mut new = Vec::new();
                leb(&mut new, data_index as u64 + 1);
                push_section(&mut out, 12, &new);
            }
            10 => {
                if !info.has_data_count {
                    let mut new = Vec::new();
                    leb(&mut new, data_index as u64 + 1);
                    push_section(&mut out, 12, &new);
                }
                out.extend(code_section(
                    content,
                    info,
                    funcs,
                    manifest.len(),
                    data_index,
                )?);
            }
            11 => {
                saw_data = true;
                let mut seg = vec![0x01];
                leb(&mut seg, manifest.len() as u64);
                seg.extend_from_slice(manifest);
                push_section(&mut out, 11, &append_items(content, 1, &seg)?);
            }
            _ => push_section(&mut out, id, content),
        }
    }
    if !saw_data {
        bail!("exec's module has no data section");
    }
    let mut features = wasmparser::WasmFeatures::default();
    features.insert(wasmparser::WasmFeatures::BULK_MEMORY);
    // Jumps between translated functions are `return_call`s (wasmtime and browsers have
    // tail calls on by default).
    features.insert(wasmparser::WasmFeatures::TAIL_CALL);
    wasmparser::Validator::new_with_features(features)
        .validate_all(&out)
        .context("the linked module does not validate")?;
    Ok(out)
}

/// The code section with the placeholders' bodies replaced and `funcs` appended.
fn code_section(
    content: &[u8],
    info: &ModuleInfo,
    funcs: &[Vec<u8>],
    manifest_len: usize,
    data_index: u32,
) -> Result<Vec<u8>> {
    let mut pos = 0;
    let count = read_leb(content, &mut pos)?;
    let mut body = Vec::new();
    leb(&mut body, count + funcs.len() as u64);
    for i in 0..count as u32 {
        let start = pos;
        let len = read_leb(content, &mut pos)? as usize;
        let end = pos + len;
        let index = info.imported_funcs + i;
        if index == info.manifest_len {
            let mut f = Function::new([]);
            f.instruction(&W::I32Const(manifest_len as i32));
            f.instruction(&W::End);
            f.encode(&mut body);
        } else if index == info.manifest_copy {
            let mut f = Function::new([]);
            f.instruction(&W::LocalGet(0));
            f.instruction(&W::I32Const(0));
            f.instruction(&W::I32Const(manifest_len as i32));
            f.instruction(&W::MemoryInit { mem: 0, data_index });
            f.instruction(&W::End);
            f.encode(&mut body);
        } else {
            body.extend_from_slice(&content[start..end]);
        }
        pos = end;
    }
    for f in funcs {
        f.encode(&mut body);
    }
    let mut out = Vec::new();
    push_section(&mut out, 10, &body);
    Ok(out)
}

/// Exec's component with its core module replaced by `edit(module)`.
pub fn edit_component(
    component: &[u8],
    edit: impl FnOnce(&[u8], ModuleInfo) -> Result<Vec<u8>>,
) -> Result<Vec<u8>> {
    let mut out = component[..8.min(component.len())].to_vec();
    let mut edit = Some(edit);
    for (id, content) in sections(component)? {
        // Section 1 of a component is a core module.
        if id == 1
            && edit.is_some()
            && let Some(info) = inspect(content)?
        {
            let new = (edit.take().unwrap())(content, info)?;
            push_section(&mut out, 1, &new);
        } else {
            push_section(&mut out, id, content);
        }
    }
    if edit.is_some() {
        bail!("no core module with exec's AOT helpers (friscy_aot_*) in this component");
    }
    Ok(out)
}
