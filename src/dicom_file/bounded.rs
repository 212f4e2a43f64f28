//! Reading a data set with bounds that hostile input cannot move: no value
//! is allocated larger than the bytes left to read, and sequences nest at
//! most [`MAX_DEPTH`] deep.
//!
//! dicom-rs 0.10 sizes a value's buffer by its declared length before it
//! reads a byte of it (a 6 KB file claiming 4 GiB costs 4 GiB), and builds
//! nested sequences by recursion (2,000 levels overflow a thread's stack).
//! Its own token reader ([`DataSetReader`]) and object builder still do all
//! the parsing here: [`Bounded`] sits between them and the byte decoder,
//! so it sees every header before its value is read, and every sequence
//! and item as it opens and closes. A declared length beyond the end of
//! the data, or one sequence too many, stops the read with a message
//! naming the tag and the byte offset, before anything is allocated for it
//! or anything deeper is built. Every file dicom-rs reads within those
//! bounds is read exactly as dicom-rs reads it.

use std::cell::RefCell;
use std::rc::Rc;

use dicom_core::header::{DataElementHeader, HasLength, Header, SequenceItemHeader};
use dicom_core::{PrimitiveValue, Tag, VR};
use dicom_encoding::TransferSyntax;
use dicom_object::InMemDicomObject;
use dicom_parser::stateful::decode::{Error as DecodeError, Result as DecodeResult};
use dicom_parser::{DynStatefulDecoder, StatefulDecode};

/// How deep sequences may nest: a sequence inside an item of a sequence
/// inside … counts one per sequence. Real files nest a handful of levels
/// (structured reports a dozen or two); every recursion over a data set in
/// this crate (reading, the interpreters, writing, character sets,
/// `explain`, `diff`, the deface stage) is bounded by it, since every
/// data set comes through this reader.
pub const MAX_DEPTH: usize = 64;

/// Read a data set (no meta group) encoded in `ts` from `bytes`. With
/// `until`, reading stops before the first element of the root data set
/// whose tag is that or greater (e.g. the pixel data). Errors give byte
/// offsets in the file when `origin` says where the data set starts in
/// it (`None`: offsets in `bytes`, e.g. an inflated data set).
pub fn read_dataset(
    bytes: &[u8],
    ts: &TransferSyntax,
    until: Option<Tag>,
    origin: Option<u64>,
) -> Result<InMemDicomObject, String> {
    read_dataset_until(bytes, ts, until, origin).map(|(obj, _)| obj)
}

/// As [`read_dataset`], and where in `bytes` the element that stopped the
/// read begins (`None`: the data ended first, so the data set may be cut
/// short when `bytes` is a prefix of it).
pub fn read_dataset_until(
    bytes: &[u8],
    ts: &TransferSyntax,
    until: Option<Tag>,
    origin: Option<u64>,
) -> Result<(InMemDicomObject, Option<u64>), String> {
    let stopped_at = Rc::new(std::cell::Cell::new(None));
    let inner =
        DynStatefulDecoder::new_with_override(bytes, ts, Default::default(), Default::default(), 0)
            .map_err(|e| error_chain(&e))?;
    let violation = Rc::new(RefCell::new(None));
    let decoder = Bounded {
        inner,
        total: bytes.len() as u64,
        open: Vec::new(),
        until,
        origin,
        violation: Rc::clone(&violation),
        stopped_at: Rc::clone(&stopped_at),
    };
    let result = InMemDicomObject::read_dataset(decoder);
    if let Some(why) = violation.take() {
        return Err(why);
    }
    result
        .map(|obj| (obj, stopped_at.get()))
        .map_err(|e| error_chain(&e))
}

/// An error and every error it came from, on one line: dicom-rs's outer
/// messages ("Could not read data set token") say little on their own.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

/// A sequence or item being read.
#[derive(Debug, Clone, Copy)]
struct Open {
    /// Where it ends, when its length is defined.
    end: Option<u64>,
    item: bool,
    /// Inside encapsulated pixel data.
    pixel: bool,
}

/// A byte decoder that refuses what would allocate beyond the data or nest
/// beyond [`MAX_DEPTH`]. It follows the opening and closing of sequences
/// and items as [`DataSetReader`](dicom_parser::DataSetReader) does: by
/// their delimiters, or by position for defined lengths.
struct Bounded<'a> {
    inner: DynStatefulDecoder<&'a [u8]>,
    total: u64,
    open: Vec<Open>,
    until: Option<Tag>,
    origin: Option<u64>,
    /// Why reading was stopped (the error dicom-rs sees says nothing).
    violation: Rc<RefCell<Option<String>>>,
    /// Where the element that ended the root data set (`until`) begins.
    stopped_at: Rc<std::cell::Cell<Option<u64>>>,
}

impl Bounded<'_> {
    fn remaining(&self) -> u64 {
        self.total.saturating_sub(self.inner.position())
    }

    /// Close what ends where we are (defined lengths).
    fn close_ended(&mut self) {
        let position = self.inner.position();
        while self.open.last().is_some_and(|o| o.end == Some(position)) {
            self.open.pop();
        }
    }

    /// Where the decoder is, as an error names it.
    fn at(&self) -> String {
        let at = self.inner.position();
        match self.origin {
            Some(origin) => format!("byte {}", origin + at),
            None => format!("byte {at} of the inflated data set"),
        }
    }

    fn depth(&self) -> usize {
        self.open.iter().filter(|o| !o.item).count()
    }

    fn stop(&self, why: String) -> DecodeError {
        self.violation.borrow_mut().get_or_insert(why);
        self.eof(std::io::ErrorKind::InvalidData)
    }

    /// The error the token reader takes for the end of the data (with
    /// `UnexpectedEof`), or for a failure.
    fn eof(&self, kind: std::io::ErrorKind) -> DecodeError {
        DecodeError::DecodeElementHeader {
            position: self.inner.position(),
            source: dicom_encoding::decode::Error::ReadHeaderTag {
                backtrace: None,
                source: kind.into(),
            },
        }
    }

    /// Open a sequence (or encapsulated pixel data) whose header was read.
    fn open_sequence(&mut self, tag: Tag, len: Option<u32>, pixel: bool) -> DecodeResult<()> {
        let at = self.inner.position();
        if self.depth() >= MAX_DEPTH {
            return Err(self.stop(format!(
                "sequences nested deeper than {MAX_DEPTH} levels at {tag} ({})",
                self.at()
            )));
        }
        self.open.push(Open {
            end: len.map(|l| at + u64::from(l)),
            item: false,
            pixel,
        });
        Ok(())
    }

    /// Refuse a value whose declared length goes past the end of the data.
    fn check_value(&self, tag: Tag, len: u32) -> DecodeResult<()> {
        let left = self.remaining();
        if u64::from(len) > left {
            return Err(self.stop(format!(
                "{tag} declares {len} bytes at {}, but only {left} remain",
                self.at()
            )));
        }
        Ok(())
    }
}

impl<'a> StatefulDecode for Bounded<'a> {
    type Reader = &'a [u8];

    fn decode_header(&mut self) -> DecodeResult<DataElementHeader> {
        self.close_ended();
        let start = self.inner.position();
        let header = self.inner.decode_header()?;
        let tag = header.tag;
        if self.open.is_empty()
            && tag.group() != 0xFFFE
            && self.until.is_some_and(|until| tag >= until)
        {
            // As dicom-rs's `read_until`: the root data set ends here.
            self.stopped_at.set(Some(start));
            return Err(self.eof(std::io::ErrorKind::UnexpectedEof));
        }
        let len = header.length().get();
        // In the order dicom-rs's token reader tells these apart.
        if header.vr == VR::SQ {
            self.open_sequence(tag, len, false)?;
        } else if tag == Tag(0xFFFE, 0xE00D) {
            // An item delimiter where an element was expected closes what
            // is open (dicom-rs ignores it outside any sequence).
            self.open.pop();
        } else if header.is_encapsulated_pixeldata() {
            self.open_sequence(tag, None, true)?;
        } else if len.is_none() {
            // dicom-rs reads any other undefined length as a sequence.
            self.open_sequence(tag, None, false)?;
        }
        Ok(header)
    }

    fn decode_item_header(&mut self) -> DecodeResult<SequenceItemHeader> {
        self.close_ended();
        let header = match self.inner.decode_item_header() {
            Ok(h) => h,
            Err(e) => {
                if self.open.last().is_some_and(|o| o.pixel) {
                    // dicom-rs ends the data set at the end of the data
                    // inside pixel data.
                    self.open.pop();
                }
                return Err(e);
            }
        };
        match header {
            SequenceItemHeader::Item { len } => {
                // An item's length allocates nothing (a pixel fragment's
                // value is checked when it is read), and dicom-rs reads
                // some files whose item lengths run past the end.
                let at = self.inner.position();
                let pixel = self.open.last().is_some_and(|o| o.pixel);
                self.open.push(Open {
                    end: len.get().map(|l| at + u64::from(l)),
                    item: true,
                    pixel,
                });
            }
            SequenceItemHeader::ItemDelimiter | SequenceItemHeader::SequenceDelimiter => {
                self.open.pop();
            }
        }
        Ok(header)
    }

    fn read_value(&mut self, header: &DataElementHeader) -> DecodeResult<PrimitiveValue> {
        self.check_value(header.tag, header.length().0)?;
        self.inner.read_value(header)
    }

    fn read_value_preserved(&mut self, header: &DataElementHeader) -> DecodeResult<PrimitiveValue> {
        self.check_value(header.tag, header.length().0)?;
        self.inner.read_value_preserved(header)
    }

    fn read_value_bytes(&mut self, header: &DataElementHeader) -> DecodeResult<PrimitiveValue> {
        self.check_value(header.tag, header.length().0)?;
        self.inner.read_value_bytes(header)
    }

    fn read_to_vec(&mut self, length: u32, vec: &mut Vec<u8>) -> DecodeResult<()> {
        self.check_value(Tag(0xFFFE, 0xE000), length)?;
        self.inner.read_to_vec(length, vec)
    }

    fn read_u32_to_vec(&mut self, length: u32, vec: &mut Vec<u32>) -> DecodeResult<()> {
        self.check_value(Tag(0xFFFE, 0xE000), length)?;
        self.inner.read_u32_to_vec(length, vec)
    }

    fn read_to<W>(&mut self, length: u32, out: W) -> DecodeResult<()>
    where
        Self: Sized,
        W: std::io::Write,
    {
        self.check_value(Tag(0xFFFE, 0xE000), length)?;
        self.inner.read_to(length, out)
    }

    fn skip_bytes(&mut self, length: u32) -> DecodeResult<()> {
        self.inner.skip_bytes(length)
    }

    fn seek(&mut self, _position: u64) -> DecodeResult<()>
    where
        Self::Reader: std::io::Seek,
    {
        // The token reader never seeks a data set read from memory.
        Err(self.stop("the reader asked to seek".into()))
    }

    fn position(&self) -> u64 {
        self.inner.position()
    }
}
