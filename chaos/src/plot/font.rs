//! The one font the timeline uses, read from a TTF file at run time.
//!
//! plotters' `ab_glyph` backend only knows fonts registered by name, and never loads system fonts
//! itself. A missing font is never an error: the timeline is then drawn without text.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use plotters::style::{FontStyle, register_font};

/// The family name the font is registered under.
pub(crate) const FAMILY: &str = "strom-chaos-sans";

/// Where common distributions keep a plain sans-serif TTF (Debian's `fonts-dejavu-core` first).
pub(crate) const SYSTEM_FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "/Library/Fonts/Arial.ttf",
];

/// Whether a font has been registered under [`FAMILY`] in this process.
static REGISTERED: Mutex<bool> = Mutex::new(false);

/// Makes sure a font from `paths` is registered under [`FAMILY`]; returns whether text can be drawn.
///
/// Returns `false` when none of `paths` is a readable file, even if an earlier call registered a
/// font, so that callers asking for no font get none. plotters needs `'static` font bytes: the first
/// font that registers is leaked, once per process.
pub(crate) fn ensure_registered(paths: &[PathBuf]) -> bool {
    if !paths.iter().any(|path| path.is_file()) {
        return false;
    }
    let mut registered = REGISTERED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if !*registered {
        *registered = paths.iter().any(|path| register(path));
    }
    *registered
}

fn register(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else { return false };
    // A file at a font path that is not a font leaks its bytes here; that needs a broken system.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    register_font(FAMILY, FontStyle::Normal, bytes).is_ok()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::ensure_registered;

    #[test]
    fn no_readable_font_means_no_text() {
        assert!(!ensure_registered(&[]));
        assert!(!ensure_registered(&[PathBuf::from("/nonexistent/strom-chaos.ttf")]));
    }
}
