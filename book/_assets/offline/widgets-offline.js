/*
 * Keep the Jupyter widgets HTML manager offline, on pages at any depth.
 *
 * Loaded after require.js and just before the manager's embed-amd.js (see
 * nb_ipywidgets_js in _config.yml). All URLs are resolved from this script's own
 * URL (_static/offline/widgets-offline.js), so they are right for every page.
 *
 * 1. embed-amd.js defines the AMD module "@jupyter-widgets/html-manager/dist/
 *    libembed-amd" and takes the folder of that module's URL as the place of its
 *    font files (Font Awesome, used by widget icons). Without a RequireJS path the
 *    URL would be resolved against the page's folder; map it to the vendored copy.
 * 2. embed-amd.js bundles @jupyter-widgets/base, controls and output, so standard
 *    ipywidgets need nothing else. Any *other* widget module it would fetch from a CDN
 *    (default https://cdn.jsdelivr.net/npm/), read from the `data-jupyter-widgets-cdn`
 *    attribute of any <script> on the page. Point it at a local folder and set
 *    `data-jupyter-widgets-cdn-only` so nothing is probed elsewhere: a third-party
 *    widget is then loaded from
 *      _static/offline/widgets-cdn/<package>@<version>/dist/index.js
 *    (vendor it there); without it the request 404s locally and nothing leaves the host.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) { return; }
  var here = function (rel) { return new URL(rel, script.src).href; };
  if (window.requirejs && window.requirejs.config) {
    window.requirejs.config({
      paths: {
        "@jupyter-widgets/html-manager/dist": here("html-manager").replace(/\/$/, ""),
        // The bundle's public path (where its Font Awesome files are) is the folder of the
        // "@jupyter-widgets/..." module id, i.e. "@jupyter-widgets/": map it to the same copy.
        "@jupyter-widgets": here("html-manager").replace(/\/$/, "")
      }
    });
  }
  // The bundle takes its public path (Font Awesome files) from this global when set,
  // before falling back to a URL derived from its module id (which resolves page-relative).
  window.__jupyter_widgets_assets_path__ = here("html-manager/");
  script.setAttribute("data-jupyter-widgets-cdn", here("widgets-cdn/"));
  script.setAttribute("data-jupyter-widgets-cdn-only", "");
})();
