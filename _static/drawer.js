// Phone navigation: pydata-sphinx-theme 0.17 opens the chapter drawer (and the page contents) from
// the FIRST ".primary-toggle" (".secondary-toggle") in the page only; sphinx-book-theme 1.3 puts a
// second one in the article header, the only one visible on a phone, and taps on it did nothing.
// Forward clicks on every other toggle to the one the theme listens to. Checked by
// tools/check_site.py (phone: "tapping the menu button shows the chapters").
document.addEventListener("DOMContentLoaded", () => {
  for (const kind of ["primary", "secondary"]) {
    const toggles = Array.from(document.querySelectorAll(`.${kind}-toggle`));
    const bound = toggles[0];
    toggles.slice(1).forEach((toggle) => {
      toggle.addEventListener("click", (event) => {
        event.preventDefault();
        event.stopPropagation();
        bound.click();
      });
    });
  }
});
