/* MathJax 2's `MathJax.Hub.Queue(["Typeset", MathJax.Hub, element])`, on top of MathJax 3.

The Jupyter widgets HTML manager (book/_vendor/html-manager/dist/embed-amd.js, three copies of the
same helper) typesets each widget label with the MathJax 2 API:

    if (window.MathJax !== undefined) MathJax.Hub.Queue(["Typeset", MathJax.Hub, element])

The book loads MathJax 3, which has no `Hub`: that call threw "Cannot read properties of undefined
(reading 'Queue')" and left LaTeX in widget labels untypeset. This script gives whatever object
`window.MathJax` is (Sphinx's MathJax 3 configuration, then MathJax 3 itself, which replaces it
when its deferred script runs) a `Hub` whose `Queue` typesets the element with MathJax 3
(`MathJax.typesetPromise`, chained on `MathJax.startup.promise` as MathJax 3's documentation
advises). Labels queued before MathJax 3 has started are typeset once it has.
Loaded by _config.yml (`nb_ipywidgets_js`) on every page with widgets, before the widget manager.
Only the "Typeset" job is provided: any other MathJax 2 call throws, naming itself.
*/
(function () {
  "use strict";
  var current = window.MathJax; // Sphinx's MathJax 3 configuration, or undefined on a page without math
  var waiting = []; // elements queued before MathJax 3 has started

  function started(mj) {
    return !!(mj && mj.startup && mj.startup.promise);
  }

  function typeset(element) {
    var mj = current;
    if (!started(mj)) {
      waiting.push(element);
      return;
    }
    mj.startup.promise = mj.startup.promise
      .then(function () { return mj.typesetPromise(element ? [element] : undefined); })
      .catch(function (err) { console.error("MathJax could not typeset a widget label:", err); });
  }

  function flush() {
    var elements = waiting.splice(0);
    if (elements.length && !started(current)) {
      console.error("MathJax 3 did not start: " + elements.length + " widget label(s) left untypeset");
      return;
    }
    elements.forEach(typeset);
  }

  var hub = {
    Queue: function () {
      for (var i = 0; i < arguments.length; i++) {
        var job = arguments[i];
        if (Array.isArray(job) && job[0] === "Typeset") {
          typeset(job[2]);
        } else {
          throw new Error("mathjax2-hub-shim: only MathJax.Hub.Queue([\"Typeset\", MathJax.Hub, element]) " +
                          "is provided, not " + String(Array.isArray(job) ? job[0] : job));
        }
      }
    },
    Typeset: function (element) { typeset(element); }
  };

  function attach(mj) {
    // not enumerable: MathJax 3 reads its configuration object by enumerating its keys
    if (mj && typeof mj === "object" && !("Hub" in mj)) {
      Object.defineProperty(mj, "Hub", { value: hub, configurable: true });
    }
  }

  attach(current);
  Object.defineProperty(window, "MathJax", {
    configurable: true,
    enumerable: true,
    get: function () { return current; },
    set: function (value) {
      current = value;
      attach(value);
      // MathJax 3 sets the global first and defines `startup` later in the same script
      if (value && value.version && waiting.length) setTimeout(flush, 0);
    }
  });
})();
