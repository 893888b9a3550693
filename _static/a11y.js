// docutils marks bibliography entries with the deprecated DPUB role "doc-biblioentry" inside a
// role="list" container, which leaves the list without list items for assistive technology
// (axe: aria-required-children, critical). Give the entries the role their container requires.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll('[role="list"] > [role="doc-biblioentry"]').forEach((entry) => {
    entry.setAttribute("role", "listitem");
  });
});

// A display formula wider than the column scrolls sideways; keyboard users reach the scroll only if
// it can take focus (axe: scrollable-region-focusable, serious). MathJax's menu made every formula
// focusable; the pages load MathJax without it (docs/readers.md, "Light pages"), so do it here.
document.addEventListener("DOMContentLoaded", () => {
  const startup = window.MathJax && window.MathJax.startup;
  if (!startup || !startup.promise) return;
  startup.promise.then(() => {
    document.querySelectorAll('mjx-container[display="true"]').forEach((formula) => {
      if (!formula.hasAttribute("tabindex")) formula.setAttribute("tabindex", "0");
    });
  });
});
