/* Where require.js finds the Jupyter widgets HTML manager, so that the manager's fonts load.

book/_vendor/html-manager/dist/embed-amd.js defines its modules by name
(`define("@jupyter-widgets/html-manager/dist/libembed-amd", ["module"], ...)`) and takes the folder
of its assets (the icon font of the widget styles) from that module's require.js URL. Without a
`paths` entry, require.js resolves the name against the page's folder
(book/evaluation/@jupyter-widgets/html-manager/dist/...: 404 for every font file). The vendored
copy is at <book root>/html-manager/dist (html_extra_path), one folder above this script's _static/.
Loaded by _config.yml (`nb_ipywidgets_js`) after require.js and before the widget manager.
*/
(function () {
  "use strict";
  var dist = new URL("../html-manager/dist", document.currentScript.src).href;
  window.requirejs.config({ paths: { "@jupyter-widgets/html-manager/dist": dist } });
})();
