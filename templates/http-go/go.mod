module {{project-name}}

go 1.24
