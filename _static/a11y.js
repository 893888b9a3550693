// docutils marks bibliography entries with the deprecated DPUB role "doc-biblioentry" inside a
// role="list" container, which leaves the list without list items for assistive technology
// (axe: aria-required-children, critical). Give the entries the role their container requires.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll('[role="list"] > [role="doc-biblioentry"]').forEach((entry) => {
    entry.setAttribute("role", "listitem");
  });
});
