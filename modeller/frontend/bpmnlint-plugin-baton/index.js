// Baton's bpmnlint rules, named in ../.bpmnlintrc as "baton/<rule>".
module.exports = {
  configs: {}
};
