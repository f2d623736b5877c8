/*
 * The article header's two buttons open the book's contents (primary sidebar) and the page's
 * contents (secondary sidebar) at every width.
 *
 * pydata-sphinx-theme 0.17 wires only the first `.primary-toggle` and `.secondary-toggle` of the
 * page (document.querySelector), and so does sphinx-book-theme's wide-screen collapse. The first
 * ones are the buttons of the top navbar, which sphinx-book-theme hides; the visible buttons in
 * the article header get no handler and do nothing (pydata-sphinx-theme#2451,
 * sphinx-book-theme#988). A click on any other toggle is passed on to the wired one, so the
 * themes' own behaviour follows: below 992 px a dialog with the contents, above it the primary
 * sidebar collapses and comes back, and the page's contents open in a dialog.
 */
(() => {
  const KINDS = ["primary", "secondary"];
  document.addEventListener("click", (event) => {
    if (!(event.target instanceof Element)) return;
    for (const kind of KINDS) {
      const button = event.target.closest(`.${kind}-toggle`);
      if (!button) continue;
      const wired = document.querySelector(`.${kind}-toggle`);
      if (wired && wired !== button) {
        event.preventDefault();
        wired.click();
      }
      return;
    }
  });
})();
