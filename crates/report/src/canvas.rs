//! An in-memory RGB picture that plotters draws into and `image` pastes thumbnails into
//! and encodes as PNG; written to disk in one atomic step.

use std::path::Path;
use std::sync::OnceLock;

use image::imageops::{self, FilterType};
use image::{ImageBuffer, Rgb, RgbImage};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::register_font;

use crate::{ReportError, Result};

/// The font family every text of the figures uses (registered by [`fonts`]).
pub(crate) const FONT: &str = "sans-serif";

/// Side of the square cell every thumbnail is fitted into, in pixels: an MNIST digit at
/// three screen pixels per pixel, big enough to recognise a 16 × 16 icon or a small photo.
pub(crate) const THUMB: u32 = 84;

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

    /// Pastes `picture` fitted into the [`THUMB`] × [`THUMB`] cell whose top-left corner is
    /// `(x, y)`, centred and keeping its aspect ratio. Enlarged without smoothing, so single
    /// pixels of small images stay visible; shrunk with a triangle filter, so large photos do
    /// not alias.
    pub(crate) fn paste_thumbnail(&mut self, picture: &RgbImage, (x, y): (i64, i64)) -> Result<()> {
        let (w, h) = picture.dimensions();
        let scale = f64::from(THUMB) / f64::from(w.max(h).max(1));
        let fit = |side: u32| ((f64::from(side) * scale).round() as u32).clamp(1, THUMB);
        let (tw, th) = (fit(w), fit(h));
        let filter = if scale >= 1.0 {
            FilterType::Nearest
        } else {
            FilterType::Triangle
        };
        let big = imageops::resize(picture, tw, th, filter);
        let (width, height) = (self.width, self.height);
        let mut target: ImageBuffer<Rgb<u8>, &mut [u8]> =
            ImageBuffer::from_raw(width, height, &mut self.rgb[..]).ok_or_else(|| {
                ReportError::Draw {
                    figure: self.figure,
                    message: "canvas buffer smaller than its size".into(),
                }
            })?;
        let centre = |side: u32| i64::from((THUMB - side) / 2);
        imageops::overlay(&mut target, &big, x + centre(tw), y + centre(th));
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

/// Classes that get a color of their own (and a row in a legend); further classes are
/// drawn in [`OTHER_CLASSES`].
pub(crate) const DISTINCT_CLASSES: usize = 20;

/// The color of the classes past the first [`DISTINCT_CLASSES`]: near black, unlike the
/// two greys of the palette.
pub(crate) const OTHER_CLASSES: RGBColor = RGBColor(40, 40, 40);

/// One color per class: matplotlib's "tab10" (distinct, colorblind-friendly enough), then
/// the light companions of the same hues from "tab20", so up to [`DISTINCT_CLASSES`]
/// classes never share a color; [`OTHER_CLASSES`] past them.
pub(crate) fn class_color(class: usize) -> RGBColor {
    const PALETTE: [(u8, u8, u8); DISTINCT_CLASSES] = [
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
        (174, 199, 232),
        (255, 187, 120),
        (152, 223, 138),
        (255, 152, 150),
        (197, 176, 213),
        (196, 156, 148),
        (247, 182, 210),
        (199, 199, 199),
        (219, 219, 141),
        (158, 218, 229),
    ];
    PALETTE
        .get(class)
        .map_or(OTHER_CLASSES, |&(r, g, b)| RGBColor(r, g, b))
}

/// `text` as drawn in `font`, shortened with an ellipsis to at most `max_width` pixels, so
/// a long class name cannot run into its neighbours.
pub(crate) fn fit(text: &str, font: &FontDesc<'_>, max_width: u32) -> String {
    // Should the renderer fail to measure, a generous estimate of DejaVu Sans's average
    // advance (0.6 em) still keeps the text in its box.
    let width = |s: &str| {
        font.box_size(s).map_or_else(
            |_| (s.chars().count() as f64 * 0.6 * font.get_size()).ceil() as u32,
            |(w, _)| w,
        )
    };
    if width(text) <= max_width {
        return text.to_owned();
    }
    let chars: Vec<char> = text.chars().collect();
    (1..chars.len())
        .rev()
        .map(|n| {
            let kept: String = chars[..n].iter().collect();
            format!("{}…", kept.trim_end())
        })
        .find(|s| width(s) <= max_width)
        .unwrap_or_else(|| "…".to_owned())
}

/// Green for right, red for wrong: the marks of correct and mistaken predictions.
pub(crate) const RIGHT: RGBColor = RGBColor(0, 128, 0);
/// See [`RIGHT`].
pub(crate) const WRONG: RGBColor = RGBColor(200, 0, 0);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_shortened_to_its_width() {
        fonts().unwrap();
        let font: FontDesc<'static> = (FONT, 20.0).into();
        assert_eq!(fit("seven", &font, 200), "seven");
        let long = "a class whose folder name goes on and on";
        let shown = fit(long, &font, 120);
        assert!(shown.ends_with('…') && shown.len() < long.len(), "{shown}");
        assert!(font.box_size(&shown).unwrap().0 <= 120, "{shown}");
        assert_eq!(fit(long, &font, 1), "…");
    }
}
