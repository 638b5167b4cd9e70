module imageenhancer

go 1.26
