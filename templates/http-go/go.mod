// example/ is the prefix Go reserves for modules that are not published: with the project
// name one element below it, any name `kiln new` accepts is a valid module path (even
// one that is a standard package's, such as go or net). Change it here and in main.go's
// import of the kiln package to publish the module.
module example/{{project-name}}

go 1.24
