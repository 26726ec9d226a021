library(testthat)
library(mlxsglmnet)
test_check("mlxsglmnet")
