//! An in-memory RGB picture that plotters draws into and `image` pastes digits into and
//! encodes as PNG; written to disk in one atomic step.

use std::path::Path;
use std::sync::OnceLock;

use image::imageops::{self, FilterType};
use image::{GrayImage, ImageBuffer, Rgb, RgbImage};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::register_font;

use crate::{ReportError, Result};

/// The font family every text of the figures uses (registered by [`fonts`]).
pub(crate) const FONT: &str = "sans-serif";

/// The drawing area of a canvas.
pub(crate) type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Plotters' error for this backend, converted to [`ReportError::Draw`] at the figure's edge.
pub(crate) type DrawResult<T = ()> = std::result::Result<
    T,
    DrawingAreaErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>,
>;

/// Registers DejaVu Sans (regular and bold), compiled into the binary from the `dejavu`
/// crate, as [`FONT`]: text renders the same on any machine, with no system font lookup.
pub(crate) fn fonts() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
            && register_font(FONT, FontStyle::Bold, dejavu::sans::bold()).is_ok()
    });
    if ok { Ok(()) } else { Err(ReportError::Font) }
}

/// The bold face of [`FONT`] at `size` pixels. (Built whole: plotters' `FontDesc::style`
/// keeps the regular glyphs and only changes the label.)
pub(crate) fn bold(size: u32) -> FontDesc<'static> {
    (FONT, f64::from(size), FontStyle::Bold).into()
}

/// One figure being drawn.
pub(crate) struct Canvas {
    /// The file name, for error messages.
    figure: &'static str,
    width: u32,
    height: u32,
    /// `width × height` RGB pixels, row-major.
    rgb: Vec<u8>,
}

impl Canvas {
    /// A white canvas.
    pub(crate) fn new(figure: &'static str, (width, height): (u32, u32)) -> Result<Self> {
        fonts()?;
        Ok(Self {
            figure,
            width,
            height,
            rgb: vec![255; width as usize * height as usize * 3],
        })
    }

    /// Runs plotters drawing code on the whole canvas.
    pub(crate) fn draw(&mut self, f: impl FnOnce(&Area<'_>) -> DrawResult) -> Result<()> {
        let figure = self.figure;
        let fail = |message: String| ReportError::Draw { figure, message };
        let backend =
            BitMapBackend::with_buffer_and_format(&mut self.rgb, (self.width, self.height))
                .map_err(|e| fail(e.to_string()))?;
        let root = backend.into_drawing_area();
        f(&root).map_err(|e| fail(e.to_string()))?;
        root.present().map_err(|e| fail(e.to_string()))
    }

    /// Pastes a grayscale image (MNIST: white ink on black) as dark ink on white, scaled by
    /// `scale` without smoothing so single pixels stay visible, with its top-left corner at
    /// `(x, y)`.
    pub(crate) fn paste_digit(
        &mut self,
        digit: &GrayImage,
        scale: u32,
        (x, y): (i64, i64),
    ) -> Result<()> {
        let mut ink = digit.clone();
        imageops::invert(&mut ink);
        let big = imageops::resize(
            &ink,
            digit.width() * scale,
            digit.height() * scale,
            FilterType::Nearest,
        );
        let rgb: RgbImage = ImageBuffer::from_fn(big.width(), big.height(), |px, py| {
            let v = big.get_pixel(px, py).0[0];
            Rgb([v, v, v])
        });
        let (width, height) = (self.width, self.height);
        let mut target: ImageBuffer<Rgb<u8>, &mut [u8]> =
            ImageBuffer::from_raw(width, height, &mut self.rgb[..]).ok_or_else(|| {
                ReportError::Draw {
                    figure: self.figure,
                    message: "canvas buffer smaller than its size".into(),
                }
            })?;
        imageops::overlay(&mut target, &rgb, x, y);
        Ok(())
    }

    /// The picture as PNG bytes.
    pub(crate) fn png(&self) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        let encoder = image::codecs::png::PngEncoder::new(&mut bytes);
        image::ImageEncoder::write_image(
            encoder,
            &self.rgb,
            self.width,
            self.height,
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|source| ReportError::Encode {
            figure: self.figure,
            source,
        })?;
        Ok(bytes)
    }

    /// Encodes and writes the picture atomically to `dir/<figure>`.
    pub(crate) fn save(&self, dir: &Path) -> Result<()> {
        let bytes = self.png()?;
        siamese_io::write_atomically(&dir.join(self.figure), &bytes)?;
        Ok(())
    }
}

/// Image `i` of `data` as a grayscale image.
pub(crate) fn digit(data: &siamese_data::Dataset, i: usize) -> Result<GrayImage> {
    let (h, w) = match data.image_shape() {
        [h, w] => (*h, *w),
        shape => {
            return Err(ReportError::Unsuitable {
                what: format!("images of shape {shape:?} cannot be shown (need height × width)"),
            });
        }
    };
    let pixels = data.get_image(i).ok_or_else(|| ReportError::Unsuitable {
        what: format!("image {i} of a data set of {}", data.len()),
    })?;
    GrayImage::from_raw(w as u32, h as u32, pixels.to_vec()).ok_or_else(|| {
        ReportError::Unsuitable {
            what: format!("image {i} has {} pixels, not {h} × {w}", pixels.len()),
        }
    })
}

/// One color per class: the ten of matplotlib's "tab10" (distinct, colorblind-friendly
/// enough), repeated for more classes.
pub(crate) fn class_color(class: usize) -> RGBColor {
    const TAB10: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    let (r, g, b) = TAB10[class % TAB10.len()];
    RGBColor(r, g, b)
}

/// Green for right, red for wrong: the marks of correct and mistaken predictions.
pub(crate) const RIGHT: RGBColor = RGBColor(0, 128, 0);
/// See [`RIGHT`].
pub(crate) const WRONG: RGBColor = RGBColor(200, 0, 0);
