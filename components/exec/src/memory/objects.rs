//! Memory objects: page-sized frames that several mappings share, the way Linux shares
//! a file's page cache or a shmem object. The kernel creates one for each MAP_SHARED
//! mapping (and may keep one per file as a page cache), fills it from the file, maps it
//! into address spaces shared (stores go to the object's frames, every mapping sees them
//! at once) or private (copy-on-write over the object's frames), and reads it back to
//! write a file (msync).
//!
//! An object holds one reference on each of its frames; mappings hold their own through
//! their page-table entries, so a frame lives as long as either does. A frame appears when
//! a page is first touched (by a mapping or by `write`); untouched pages read as zero.
//!
//! A page cache's object starts *unfilled* (`create_unfilled`): its pages are `UNFILLED`
//! until the kernel writes them from the file, and a mapping that touches one faults
//! with `FaultCause::NotFilled` (Linux's major fault) so that the kernel reads that part
//! of the file then, not the whole file when it is mapped.
//!
//! An object its owner drops while mappings still name it stays (`dropped`), id
//! included, until no region does (`Machines::collect_objects`): a mapping's untouched
//! pages still come from it, and its id is not handed to another object meanwhile.

use super::frames::{FRAME_SIZE, FrameId, Frames, OutOfFrames, ZERO_FRAME};

/// A memory object's number.
pub type ObjectId = u32;

/// An object page the kernel has not filled yet (no frame id reaches it: Wasm memory
/// holds at most 2^20 frames).
pub const UNFILLED: FrameId = FrameId::MAX;

/// One object: its frames by page (`ZERO_FRAME`: not touched yet; `UNFILLED`: not
/// filled yet).
#[derive(Debug, Default)]
pub struct Object {
    pub frames: Vec<FrameId>,
    /// Pages it grows by are `UNFILLED` (a page cache's object).
    unfilled: bool,
    /// Its owner dropped it; mappings still named it then.
    dropped: bool,
}

/// No such object, a page past its end, or a page not filled yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectError {
    NoObject,
    PastEnd,
    OutOfMemory,
    NotFilled,
}

/// Whether `f` holds a frame reference (not the zero frame, not a page to fill).
fn is_frame(f: FrameId) -> bool {
    f != ZERO_FRAME && f != UNFILLED
}

impl From<OutOfFrames> for ObjectError {
    fn from(_: OutOfFrames) -> Self {
        ObjectError::OutOfMemory
    }
}

/// Every memory object of a machine; ids are reused only after `drop`.
#[derive(Debug, Default)]
pub struct Objects {
    slots: Vec<Option<Object>>,
    free: Vec<ObjectId>,
    /// How many objects are dropped but not freed yet (`collect_objects` has work).
    dropped_count: usize,
}

impl Objects {
    /// An object of `pages` zero pages.
    pub fn create(&mut self, pages: u64) -> ObjectId {
        self.insert(Object {
            frames: vec![ZERO_FRAME; pages as usize],
            ..Object::default()
        })
    }

    /// An object of `pages` pages to be filled by `write` before mappings can use them.
    pub fn create_unfilled(&mut self, pages: u64) -> ObjectId {
        self.insert(Object {
            frames: vec![UNFILLED; pages as usize],
            unfilled: true,
            dropped: false,
        })
    }

    fn insert(&mut self, o: Object) -> ObjectId {
        match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some(o);
                id
            }
            None => {
                self.slots.push(Some(o));
                (self.slots.len() - 1) as ObjectId
            }
        }
    }

    fn get_mut(&mut self, id: ObjectId) -> Result<&mut Object, ObjectError> {
        self.slots
            .get_mut(id as usize)
            .and_then(Option::as_mut)
            .ok_or(ObjectError::NoObject)
    }

    fn get(&self, id: ObjectId) -> Result<&Object, ObjectError> {
        self.slots
            .get(id as usize)
            .and_then(Option::as_ref)
            .ok_or(ObjectError::NoObject)
    }

    /// Drops the object's references to its frames (mappings keep theirs) and frees its
    /// id. Only for an object no region names (see `mark_dropped`).
    pub fn drop_object(&mut self, id: ObjectId, frames: &mut Frames) {
        if let Some(Some(o)) = self.slots.get_mut(id as usize).map(Option::take) {
            self.dropped_count -= o.dropped as usize;
            for f in o.frames {
                if is_frame(f) {
                    frames.put(f);
                }
            }
            self.free.push(id);
        }
    }

    /// The owner is done with the object; it is freed once no region names it.
    pub fn mark_dropped(&mut self, id: ObjectId) {
        if let Ok(o) = self.get_mut(id)
            && !o.dropped
        {
            o.dropped = true;
            self.dropped_count += 1;
        }
    }

    /// The objects dropped by their owners but not freed yet.
    pub fn dropped(&self) -> Vec<ObjectId> {
        if self.dropped_count == 0 {
            return Vec::new();
        }
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, o)| o.as_ref().is_some_and(|o| o.dropped))
            .map(|(id, _)| id as ObjectId)
            .collect()
    }

    /// Whether the object exists and its owner has not dropped it (it may be mapped).
    pub fn is_live(&self, id: ObjectId) -> bool {
        self.get(id).is_ok_and(|o| !o.dropped)
    }

    /// Grows or shrinks the object to `pages` (ftruncate of a mapped file).
    pub fn resize(
        &mut self,
        id: ObjectId,
        pages: u64,
        frames: &mut Frames,
    ) -> Result<(), ObjectError> {
        let o = self.get_mut(id)?;
        for f in o.frames.drain(pages.min(o.frames.len() as u64) as usize..) {
            if is_frame(f) {
                frames.put(f);
            }
        }
        let new = if o.unfilled { UNFILLED } else { ZERO_FRAME };
        o.frames.resize(pages as usize, new);
        Ok(())
    }

    pub fn pages(&self, id: ObjectId) -> Result<u64, ObjectError> {
        Ok(self.get(id)?.frames.len() as u64)
    }

    /// The frame of page `page`, made if it was not touched yet (`NotFilled` if the page
    /// waits for the kernel to fill it).
    pub fn frame(
        &mut self,
        id: ObjectId,
        page: u64,
        frames: &mut Frames,
    ) -> Result<FrameId, ObjectError> {
        let o = self.get_mut(id)?;
        let slot = o
            .frames
            .get_mut(page as usize)
            .ok_or(ObjectError::PastEnd)?;
        match *slot {
            UNFILLED => return Err(ObjectError::NotFilled),
            ZERO_FRAME => *slot = frames.alloc_zeroed()?,
            _ => {}
        }
        Ok(*slot)
    }

    /// Copies `data` into the object at byte `offset` (filling it from a file). A page not
    /// filled yet counts as zero before: the kernel writes a page whole (or up to the
    /// file's end) when it fills one. All or nothing: if a frame cannot be had, no page
    /// changes (a page the kernel could not fill stays unfilled, not zero).
    pub fn write(
        &mut self,
        id: ObjectId,
        offset: u64,
        data: &[u8],
        frames: &mut Frames,
    ) -> Result<(), ObjectError> {
        let end = offset + data.len() as u64;
        if end.div_ceil(FRAME_SIZE as u64) > self.pages(id)? {
            return Err(ObjectError::PastEnd);
        }
        if data.is_empty() {
            return Ok(());
        }
        let pages = offset / FRAME_SIZE as u64..end.div_ceil(FRAME_SIZE as u64);
        // Frames for the pages that have none, first.
        let o = self.get_mut(id)?;
        let mut made: Vec<(usize, FrameId)> = Vec::new();
        for page in pages.clone() {
            let slot = o.frames[page as usize];
            if slot == ZERO_FRAME || slot == UNFILLED {
                match frames.alloc_zeroed() {
                    Ok(f) => made.push((page as usize, f)),
                    Err(e) => {
                        for (_, f) in made {
                            frames.put(f);
                        }
                        return Err(e.into());
                    }
                }
            }
        }
        for (page, f) in made {
            o.frames[page] = f;
        }
        let mut done = 0usize;
        for page in pages {
            let at = offset + done as u64;
            let within = (at % FRAME_SIZE as u64) as usize;
            let n = (FRAME_SIZE - within).min(data.len() - done);
            let f = o.frames[page as usize];
            frames.bytes_mut(f)[within..within + n].copy_from_slice(&data[done..done + n]);
            done += n;
        }
        Ok(())
    }

    /// `len` bytes of the object at byte `offset` (untouched and unfilled pages read as
    /// zero).
    pub fn read(
        &self,
        id: ObjectId,
        offset: u64,
        len: usize,
        frames: &Frames,
    ) -> Result<Vec<u8>, ObjectError> {
        let o = self.get(id)?;
        if (offset + len as u64).div_ceil(FRAME_SIZE as u64) > o.frames.len() as u64 {
            return Err(ObjectError::PastEnd);
        }
        let mut out = vec![0u8; len];
        let mut done = 0usize;
        while done < len {
            let at = offset + done as u64;
            let page = (at / FRAME_SIZE as u64) as usize;
            let within = (at % FRAME_SIZE as u64) as usize;
            let n = (FRAME_SIZE - within).min(len - done);
            let f = o.frames[page];
            if is_frame(f) {
                out[done..done + n].copy_from_slice(&frames.bytes(f)[within..within + n]);
            }
            done += n;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_resize_drop() {
        let mut fr = Frames::new();
        let mut objs = Objects::default();
        let o = objs.create(3);
        assert_eq!(objs.read(o, 4090, 10, &fr).unwrap(), vec![0; 10]);
        assert_eq!(fr.in_use(), 0, "reading makes no frames");
        objs.write(o, 4090, b"hello world", &mut fr).unwrap();
        assert_eq!(objs.read(o, 4090, 11, &fr).unwrap(), b"hello world");
        assert_eq!(fr.in_use(), 2);
        assert_eq!(
            objs.write(o, 3 * 4096 - 2, b"xyz", &mut fr),
            Err(ObjectError::PastEnd)
        );
        objs.resize(o, 1, &mut fr).unwrap();
        assert_eq!(fr.in_use(), 1);
        assert_eq!(objs.frame(o, 1, &mut fr), Err(ObjectError::PastEnd));
        objs.drop_object(o, &mut fr);
        assert_eq!(fr.in_use(), 0);
        assert_eq!(objs.pages(o), Err(ObjectError::NoObject));
    }
}
